//! `KubeSchedulerConfiguration` (kubescheduler.config.k8s.io/v1): profiles,
//! the plugins enabled or disabled at each extension point, score weights,
//! plugin args and percentageOfNodesToScore, read as upstream reads them.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Deserialize;

use crate::framework::{Framework, Plugin, WeightedScore};
use crate::plugins::{self, RegistryError, DEFAULT_PLUGINS};

pub const DEFAULT_SCHEDULER_NAME: &str = "default-scheduler";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read scheduler configuration: {0}")]
    Parse(String),
    #[error("unsupported configuration {0}; want apiVersion kubescheduler.config.k8s.io/v1, kind KubeSchedulerConfiguration")]
    Kind(String),
    #[error("profiles[{index}]: {source}")]
    Plugin {
        index: usize,
        #[source]
        source: RegistryError,
    },
    #[error("{0}")]
    Invalid(String),
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KubeSchedulerConfiguration {
    #[serde(default)]
    pub api_version: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub percentage_of_nodes_to_score: Option<u32>,
    #[serde(default)]
    pub profiles: Vec<Profile>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    #[serde(default)]
    pub scheduler_name: Option<String>,
    #[serde(default)]
    pub percentage_of_nodes_to_score: Option<u32>,
    #[serde(default)]
    pub plugins: Option<Plugins>,
    #[serde(default)]
    pub plugin_config: Vec<PluginConfig>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Plugins {
    #[serde(default)]
    pub multi_point: PluginSet,
    #[serde(default)]
    pub pre_filter: PluginSet,
    #[serde(default)]
    pub filter: PluginSet,
    #[serde(default)]
    pub post_filter: PluginSet,
    #[serde(default)]
    pub pre_score: PluginSet,
    #[serde(default)]
    pub score: PluginSet,
    #[serde(default)]
    pub reserve: PluginSet,
    #[serde(default)]
    pub permit: PluginSet,
    #[serde(default)]
    pub queue_sort: PluginSet,
    #[serde(default)]
    pub bind: PluginSet,
    #[serde(default)]
    pub pre_enqueue: PluginSet,
    #[serde(default)]
    pub pre_bind: PluginSet,
    #[serde(default)]
    pub post_bind: PluginSet,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct PluginSet {
    #[serde(default)]
    pub enabled: Vec<PluginRef>,
    #[serde(default)]
    pub disabled: Vec<PluginRef>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PluginRef {
    pub name: String,
    #[serde(default)]
    pub weight: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PluginConfig {
    pub name: String,
    #[serde(default)]
    pub args: Option<serde_json::Value>,
}

impl KubeSchedulerConfiguration {
    pub fn from_yaml(text: &str) -> Result<Self, ConfigError> {
        let config: KubeSchedulerConfiguration =
            serde_yaml::from_str(text).map_err(|e| ConfigError::Parse(e.to_string()))?;
        if config.kind != "KubeSchedulerConfiguration"
            || config.api_version != "kubescheduler.config.k8s.io/v1"
        {
            return Err(ConfigError::Kind(format!(
                "{}/{}",
                config.api_version, config.kind
            )));
        }
        if let Some(p) = config.percentage_of_nodes_to_score.filter(|p| *p > 100) {
            return Err(ConfigError::Invalid(format!(
                "percentageOfNodesToScore: Invalid value: {p}: not in valid range [0-100]"
            )));
        }
        Ok(config)
    }

    /// The frameworks to run, one per profile (the default profile when
    /// none is configured).
    pub fn frameworks(&self) -> Result<Vec<Framework>, ConfigError> {
        let default = [Profile::default()];
        let profiles: &[Profile] = if self.profiles.is_empty() {
            &default
        } else {
            &self.profiles
        };
        let mut seen = Vec::new();
        let mut out = Vec::new();
        for (index, p) in profiles.iter().enumerate() {
            let name = p
                .scheduler_name
                .clone()
                .unwrap_or_else(|| DEFAULT_SCHEDULER_NAME.to_string());
            if seen.contains(&name) {
                return Err(ConfigError::Invalid(format!(
                    "profiles[{index}].schedulerName: Duplicate value: {name:?}"
                )));
            }
            seen.push(name.clone());
            let mut fw =
                build_profile(p, name).map_err(|source| ConfigError::Plugin { index, source })?;
            fw.percentage_of_nodes_to_score = p
                .percentage_of_nodes_to_score
                .or(self.percentage_of_nodes_to_score);
            out.push(fw);
        }
        Ok(out)
    }
}

fn apply(list: &mut Vec<(String, i64)>, set: &PluginSet) {
    if set.disabled.iter().any(|d| d.name == "*") {
        list.clear();
    }
    list.retain(|(n, _)| !set.disabled.iter().any(|d| d.name == *n));
    for e in &set.enabled {
        match list.iter_mut().find(|(n, _)| *n == e.name) {
            Some(slot) => slot.1 = e.weight.unwrap_or(slot.1),
            None => list.push((e.name.clone(), e.weight.unwrap_or(1))),
        }
    }
}

/// Plugins at one extension point with their score weights.
type Weighted = Vec<(Arc<dyn Plugin>, i64)>;

fn build_profile(p: &Profile, name: String) -> Result<Framework, RegistryError> {
    let args: HashMap<&str, &serde_json::Value> = p
        .plugin_config
        .iter()
        .filter_map(|c| c.args.as_ref().map(|a| (c.name.as_str(), a)))
        .collect();
    let empty = Plugins::default();
    let cfg = p.plugins.as_ref().unwrap_or(&empty);
    let mut multi: Vec<(String, i64)> = DEFAULT_PLUGINS
        .iter()
        .map(|(n, w)| (n.to_string(), if *w == 0 { 1 } else { *w }))
        .collect();
    apply(&mut multi, &cfg.multi_point);

    let mut built: HashMap<String, Arc<dyn Plugin>> = HashMap::new();
    let mut instance = |n: &str| -> Result<Option<Arc<dyn Plugin>>, RegistryError> {
        if let Some(p) = built.get(n) {
            return Ok(Some(p.clone()));
        }
        let plugin = plugins::build(n, args.get(n).copied())?;
        if let Some(p) = &plugin {
            built.insert(n.to_string(), p.clone());
        }
        Ok(plugin)
    };
    // Plugins named only at a single point must still be known.
    for set in [
        &cfg.queue_sort,
        &cfg.bind,
        &cfg.pre_enqueue,
        &cfg.pre_bind,
        &cfg.post_bind,
    ] {
        for e in &set.enabled {
            instance(&e.name)?;
        }
    }
    // Every point starts from the multi-point plugins that implement it.
    let mut point =
        |set: &PluginSet, implements: fn(&dyn Plugin) -> bool| -> Result<Weighted, RegistryError> {
            let mut names = Vec::new();
            for (n, w) in &multi {
                if let Some(p) = instance(n)? {
                    if implements(p.as_ref()) {
                        names.push((n.clone(), *w));
                    }
                }
            }
            apply(&mut names, set);
            let mut out = Vec::new();
            for (n, w) in names {
                match instance(&n)? {
                    Some(p) if implements(p.as_ref()) => out.push((p, w)),
                    Some(_) | None => {}
                }
            }
            Ok(out)
        };
    let strip = |v: Weighted| v.into_iter().map(|(p, _)| p).collect::<Vec<_>>();
    let pre_filter = strip(point(&cfg.pre_filter, |p| p.as_pre_filter().is_some())?);
    let filter = strip(point(&cfg.filter, |p| p.as_filter().is_some())?);
    let post_filter = strip(point(&cfg.post_filter, |p| p.as_post_filter().is_some())?);
    let pre_score = strip(point(&cfg.pre_score, |p| p.as_pre_score().is_some())?);
    let score = point(&cfg.score, |p| p.as_score().is_some())?
        .into_iter()
        .map(|(plugin, weight)| WeightedScore { plugin, weight })
        .collect();
    let reserve = strip(point(&cfg.reserve, |p| p.as_reserve().is_some())?);
    let permit = strip(point(&cfg.permit, |p| p.as_permit().is_some())?);
    let all = built.into_values().collect();
    Ok(Framework {
        scheduler_name: name,
        percentage_of_nodes_to_score: None,
        pre_filter,
        filter,
        post_filter,
        pre_score,
        score,
        reserve,
        permit,
        all,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[Arc<dyn Plugin>]) -> Vec<&'static str> {
        v.iter().map(|p| p.name()).collect()
    }

    #[test]
    fn default_profile_has_upstream_plugins_and_weights() {
        let fws = KubeSchedulerConfiguration::default().frameworks().unwrap();
        assert_eq!(fws.len(), 1);
        let fw = &fws[0];
        assert_eq!(fw.scheduler_name, "default-scheduler");
        assert_eq!(
            names(&fw.filter),
            vec![
                "NodeUnschedulable",
                "NodeName",
                "TaintToleration",
                "NodeAffinity",
                "NodePorts",
                "NodeResourcesFit",
                "PodTopologySpread",
                "InterPodAffinity"
            ]
        );
        let weights: Vec<_> = fw
            .score
            .iter()
            .map(|s| (s.plugin.name(), s.weight))
            .collect();
        assert_eq!(
            weights,
            vec![
                ("TaintToleration", 3),
                ("NodeAffinity", 2),
                ("NodeResourcesFit", 1),
                ("PodTopologySpread", 2),
                ("InterPodAffinity", 2),
                ("NodeResourcesBalancedAllocation", 1),
                ("ImageLocality", 1)
            ]
        );
        assert_eq!(names(&fw.post_filter), vec!["DefaultPreemption"]);
    }

    #[test]
    fn profiles_disable_enable_and_reweight() {
        let yaml = r#"
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
percentageOfNodesToScore: 30
profiles:
- schedulerName: default-scheduler
- schedulerName: bin-packing
  plugins:
    score:
      disabled:
      - name: "*"
      enabled:
      - name: NodeResourcesFit
        weight: 5
    filter:
      disabled:
      - name: TaintToleration
  pluginConfig:
  - name: NodeResourcesFit
    args:
      scoringStrategy:
        type: MostAllocated
"#;
        let fws = KubeSchedulerConfiguration::from_yaml(yaml)
            .unwrap()
            .frameworks()
            .unwrap();
        assert_eq!(fws.len(), 2);
        let bp = &fws[1];
        assert_eq!(bp.scheduler_name, "bin-packing");
        assert_eq!(bp.percentage_of_nodes_to_score, Some(30));
        let weights: Vec<_> = bp
            .score
            .iter()
            .map(|s| (s.plugin.name(), s.weight))
            .collect();
        assert_eq!(weights, vec![("NodeResourcesFit", 5)]);
        assert!(!names(&bp.filter).contains(&"TaintToleration"));
    }

    #[test]
    fn bad_configuration_is_refused_with_a_reason() {
        let err =
            KubeSchedulerConfiguration::from_yaml("kind: Nope\napiVersion: v1\n").unwrap_err();
        assert!(err.to_string().contains("unsupported configuration"));
        let yaml = "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\nprofiles:\n- plugins:\n    filter:\n      enabled:\n      - name: NoSuchPlugin\n";
        let err = KubeSchedulerConfiguration::from_yaml(yaml)
            .unwrap()
            .frameworks()
            .err()
            .unwrap();
        assert!(err.to_string().contains("NoSuchPlugin"), "{err}");
    }
}
