//! ImageLocality: prefers nodes that already hold the pod's images,
//! weighted by image size and by how widely the image is spread (so pods
//! don't all pile onto the one node that has it).

use crate::cache::Cache;
use crate::framework::{CycleState, Plugin, PreScore, Score, Status, MAX_NODE_SCORE};
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

/// Docker-style normalisation: `nginx` → `docker.io/library/nginx:latest`.
pub fn normalize_image(name: &str) -> String {
    let (repo, suffix) = match name.find('@') {
        Some(i) => (&name[..i], name[i..].to_string()),
        None => {
            let last = name.rsplit('/').next().unwrap_or(name);
            if last.contains(':') {
                let i = name.rfind(':').unwrap_or(name.len());
                (&name[..i], name[i..].to_string())
            } else {
                (name, ":latest".to_string())
            }
        }
    };
    let first = repo.split('/').next().unwrap_or(repo);
    let has_domain =
        repo.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    let full = if has_domain {
        repo.to_string()
    } else if repo.contains('/') {
        format!("docker.io/{repo}")
    } else {
        format!("docker.io/library/{repo}")
    };
    format!("{full}{suffix}")
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
        let Some(n) = node.node.as_deref() else {
            return 0;
        };
        let node_images = n.status.as_ref().and_then(|s| s.images.as_ref());
        let mut sum = 0i64;
        for (image, having) in &spread.images {
            let size = node_images
                .into_iter()
                .flatten()
                .find(|i| {
                    i.names
                        .iter()
                        .flatten()
                        .any(|name| normalize_image(name) == *image)
                })
                .and_then(|i| i.size_bytes);
            if let Some(size) = size {
                if spread.total_nodes > 0 {
                    sum += size * *having as i64 / spread.total_nodes as i64;
                }
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
