//! ImageLocality: prefers nodes that already hold the pod's images,
//! weighted by image size and by how widely the image is spread (so pods
//! don't all pile onto the one node that has it).

use crate::cache::Cache;
use crate::framework::{CycleState, Plugin, PreScore, Score, Status, MAX_NODE_SCORE};
use crate::matching::normalize_image;
use crate::node_info::{NodeInfo, PodInfo};

pub const NAME: &str = "ImageLocality";
const MB: i64 = 1024 * 1024;
const MIN_THRESHOLD: i64 = 23 * MB;
const MAX_CONTAINER_THRESHOLD: i64 = 1000 * MB;

pub struct ImageLocality;

/// Per image the pod uses: how many of all nodes have it.
struct Spread {
    total_nodes: usize,
    images: Vec<(String, usize)>,
}

const STATE_KEY: &str = "PreScore/ImageLocality";

impl Plugin for ImageLocality {
    fn name(&self) -> &'static str {
        NAME
    }
    fn as_pre_score(&self) -> Option<&dyn PreScore> {
        Some(self)
    }
    fn as_score(&self) -> Option<&dyn Score> {
        Some(self)
    }
}

fn pod_images(pod: &PodInfo) -> Vec<String> {
    pod.spec()
        .into_iter()
        .flat_map(|s| {
            s.containers
                .iter()
                .chain(s.init_containers.iter().flatten())
        })
        .filter_map(|c| c.image.as_deref())
        .map(normalize_image)
        .collect()
}

impl PreScore for ImageLocality {
    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        _: &[&NodeInfo],
        cache: &Cache,
    ) -> Status {
        let images = pod_images(pod)
            .into_iter()
            .map(|i| {
                let n = cache.nodes_with_image(&i);
                (i, n)
            })
            .collect();
        state.write(
            STATE_KEY,
            Spread {
                total_nodes: cache.node_count(),
                images,
            },
        );
        Status::success()
    }
}

impl Score for ImageLocality {
    fn score(&self, state: &CycleState, _: &PodInfo, node: &NodeInfo) -> i64 {
        let Some(spread) = state.read::<Spread>(STATE_KEY) else {
            return 0;
        };
        let mut sum = 0i64;
        for (image, having) in &spread.images {
            let size = node
                .images
                .iter()
                .find(|(name, _)| name == image)
                .map(|(_, size)| *size);
            if let (Some(size), true) = (size, spread.total_nodes > 0) {
                sum += size * *having as i64 / spread.total_nodes as i64;
            }
        }
        let max = MAX_CONTAINER_THRESHOLD * spread.images.len().max(1) as i64;
        let clamped = sum.clamp(MIN_THRESHOLD, max);
        MAX_NODE_SCORE * (clamped - MIN_THRESHOLD) / (max - MIN_THRESHOLD)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_holding_the_image_score_higher_whatever_name_form_they_report() {
        use crate::cache::Cache;
        use crate::testing::{node, pod};
        use k8s_openapi::api::core::v1::ContainerImage;
        use std::sync::Arc;

        let mut cache = Cache::default();
        let mut with = node("with", "4", "4Gi");
        with.status.as_mut().unwrap().images = Some(vec![ContainerImage {
            names: Some(vec!["nginx:1.27".into()]),
            size_bytes: Some(500 * MB),
        }]);
        cache.add_or_update_node(Arc::new(with));
        cache.add_or_update_node(Arc::new(node("without", "4", "4Gi")));
        let mut p = pod("p", "", "");
        p.spec.as_mut().unwrap().containers[0].image = Some("docker.io/library/nginx:1.27".into());
        let p = PodInfo::new(Arc::new(p));
        let nodes: Vec<_> = cache.nodes().collect();
        let mut state = CycleState::default();
        assert!(ImageLocality
            .pre_score(&mut state, &p, &nodes, &cache)
            .is_success());
        let with = ImageLocality.score(&state, &p, cache.node("with").unwrap());
        let without = ImageLocality.score(&state, &p, cache.node("without").unwrap());
        // 500 MB spread over half the nodes: (250 - 23) / (1000 - 23).
        assert_eq!((with, without), (23, 0));
    }

    #[test]
    fn image_names_normalise_like_docker_references() {
        assert_eq!(normalize_image("nginx"), "docker.io/library/nginx:latest");
        assert_eq!(
            normalize_image("nginx:1.27"),
            "docker.io/library/nginx:1.27"
        );
        assert_eq!(normalize_image("me/app"), "docker.io/me/app:latest");
        assert_eq!(
            normalize_image("localhost:5000/app:v1"),
            "localhost:5000/app:v1"
        );
        assert_eq!(
            normalize_image("registry.k8s.io/pause@sha256:ab"),
            "registry.k8s.io/pause@sha256:ab"
        );
    }
}
