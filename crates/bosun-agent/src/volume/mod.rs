//! Pod volumes (kubelet's volume manager and in-tree plugins): each volume
//! of a pod is set up under `<data-dir>/pods/<uid>/volumes/<plugin>/<name>`
//! (or is a path on the host) before the pod's sandbox starts, refreshed on
//! every later sync (ConfigMap/Secret/downward API/token contents are
//! rewritten atomically when they change), mounted into containers through
//! CRI `Mount`s, and torn down (tmpfs unmounted) when the pod is gone.
//!
//! Plugins: `emptyDir` (disk, or tmpfs for medium Memory, sized by
//! sizeLimit; a disk one over its sizeLimit evicts the pod), `hostPath` (type checks in `host_path.rs`), `configMap`,
//! `secret`, `downwardAPI`, `projected` (with `serviceAccountToken`;
//! secret and projected volumes on tmpfs, as kubelet's memory-backed ones;
//! payloads in `payload.rs`, written by `atomic_writer.rs`), and
//! `persistentVolumeClaim` bound to a `hostPath` or `local`
//! PersistentVolume. The cluster is reached through `host::VolumeHost`.

pub mod atomic_writer;
pub mod host;
pub mod host_path;
pub mod payload;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Container, Pod, Volume};
use parking_lot::Mutex;

use crate::cri::api;
use atomic_writer::Payload;
use host::{Token, TokenParams, VolumeHost};

pub const EMPTY_DIR: &str = "kubernetes.io~empty-dir";
pub const CONFIG_MAP: &str = "kubernetes.io~configmap";
pub const SECRET: &str = "kubernetes.io~secret";
pub const DOWNWARD_API: &str = "kubernetes.io~downward-api";
pub const PROJECTED: &str = "kubernetes.io~projected";

/// A volume that could not be set up; the message is upstream's.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum VolumeError {
    #[error("MountVolume.SetUp failed for volume \"{volume}\" : {message}")]
    SetUp { volume: String, message: String },
    #[error("{0}")]
    Claim(String),
}

/// Where a set-up volume is on the host.
#[derive(Debug, Clone, PartialEq)]
pub struct MountedVolume {
    pub host_path: PathBuf,
    /// The plugin mounts it read-only (configMap, secret, downwardAPI,
    /// projected, a read-only claim).
    pub read_only: bool,
}

/// A pod's volumes by name.
pub type PodVolumes = HashMap<String, MountedVolume>;

pub struct VolumeManager {
    pods_dir: PathBuf,
    host: Arc<dyn VolumeHost>,
    /// Tokens by `<pod uid>/<volume>/<path>`.
    tokens: Mutex<HashMap<String, Token>>,
    /// Secret and projected volumes live on tmpfs (kubelet's
    /// memory-backed wrapper), so secrets never reach the disk.
    memory_backed_secrets: bool,
}

fn set_up_err(volume: &str) -> impl Fn(String) -> VolumeError + '_ {
    move |message| VolumeError::SetUp {
        volume: volume.to_string(),
        message,
    }
}

/// The mount points of a pod's volumes that are mount points on the host
/// (tmpfs emptyDirs), from `/proc/self/mountinfo`.
fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return vec![];
    };
    info.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|p| PathBuf::from(p.replace("\\040", " ")))
        .filter(|p| p.starts_with(dir))
        .collect()
}

fn is_mount_point(path: &Path) -> bool {
    mounts_under(path).iter().any(|p| p == path)
}

/// Mounts a tmpfs on `dir` unless one is there already.
fn mount_tmpfs(dir: &Path, mode: &str, size: Option<i64>) -> Result<(), String> {
    if is_mount_point(dir) {
        return Ok(());
    }
    let mut options = format!("mode={mode}");
    if let Some(bytes) = size {
        options.push_str(&format!(",size={bytes}"));
    }
    let data = std::ffi::CString::new(options).map_err(|e| e.to_string())?;
    rustix::mount::mount(
        "tmpfs",
        dir,
        "tmpfs",
        rustix::mount::MountFlags::empty(),
        Some(data.as_c_str()),
    )
    .map_err(|e| format!("mount tmpfs on {}: {e}", dir.display()))
}

/// Bytes allocated under `dir` (as `du`: blocks, not apparent sizes; hard
/// links counted once per walk is not attempted).
fn disk_usage(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(meta) = entry.path().symlink_metadata() else {
                continue;
            };
            total += meta.blocks() * 512;
            if meta.is_dir() {
                stack.push(entry.path());
            }
        }
    }
    total
}

/// kubelet's token refresh rule: renew after 80% of the lifetime or 24 h.
fn needs_refresh(token: &Token, expiration_seconds: i64, now: i64) -> bool {
    let ttl = expiration_seconds.max(1);
    let issued = token.expires_at - ttl;
    now >= issued + ttl * 8 / 10 || now >= issued + 24 * 3600
}

impl VolumeManager {
    pub fn new(data_dir: &Path, host: Arc<dyn VolumeHost>) -> Self {
        VolumeManager {
            pods_dir: data_dir.join("pods"),
            host,
            tokens: Mutex::default(),
            memory_backed_secrets: true,
        }
    }

    /// Keeps secret and projected volumes on disk (unit tests, which may
    /// not mount).
    pub fn with_secrets_on_disk(mut self) -> Self {
        self.memory_backed_secrets = false;
        self
    }

    pub fn host(&self) -> &dyn VolumeHost {
        &*self.host
    }

    /// `<data-dir>/pods/<uid>/volumes`.
    pub fn pod_volumes_dir(&self, uid: &str) -> PathBuf {
        self.pods_dir.join(uid).join("volumes")
    }

    fn plugin_dir(&self, uid: &str, plugin: &str, name: &str) -> PathBuf {
        self.pod_volumes_dir(uid).join(plugin).join(name)
    }

    /// Sets up (or refreshes) every volume of the pod. A volume that was
    /// set up before and fails to refresh keeps its content (reported, not
    /// fatal), as kubelet keeps a running pod's volumes.
    pub async fn set_up_pod(&self, pod: &Pod) -> Result<PodVolumes, VolumeError> {
        let mut out = PodVolumes::new();
        for v in pod
            .spec
            .as_ref()
            .and_then(|s| s.volumes.as_deref())
            .unwrap_or(&[])
        {
            let mounted = self.set_up(pod, v).await?;
            out.insert(v.name.clone(), mounted);
        }
        Ok(out)
    }

    async fn set_up(&self, pod: &Pod, v: &Volume) -> Result<MountedVolume, VolumeError> {
        let uid = pod.metadata.uid.as_deref().unwrap_or_default();
        let err = set_up_err(&v.name);
        let io = |e: std::io::Error| e.to_string();
        if let Some(e) = &v.empty_dir {
            let dir = self.plugin_dir(uid, EMPTY_DIR, &v.name);
            std::fs::create_dir_all(&dir).map_err(io).map_err(&err)?;
            if e.medium.as_deref() == Some("Memory") {
                let size = e
                    .size_limit
                    .as_ref()
                    .and_then(|q| crate::kuberuntime::config::memory_bytes(&q.0))
                    .filter(|b| *b > 0);
                mount_tmpfs(&dir, "0777", size).map_err(&err)?;
            }
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777))
                .map_err(io)
                .map_err(&err)?;
            return Ok(MountedVolume {
                host_path: dir,
                read_only: false,
            });
        }
        if let Some(h) = &v.host_path {
            let path = PathBuf::from(&h.path);
            host_path::check_type(&path, h.type_.as_deref().unwrap_or_default()).map_err(&err)?;
            return Ok(MountedVolume {
                host_path: path,
                read_only: false,
            });
        }
        if let Some(c) = &v.persistent_volume_claim {
            return self
                .claim(pod, &c.claim_name, c.read_only.unwrap_or(false))
                .await;
        }
        let (plugin, payload) = match self.payload(pod, v).await {
            Some((plugin, r)) => (plugin, r),
            None => {
                return Err(err(format!(
                    "volume {} has no supported source on this node",
                    v.name
                )))
            }
        };
        let dir = self.plugin_dir(uid, plugin, &v.name);
        let payload = match payload {
            Ok(p) => p,
            Err(message) if dir.join("..data").exists() => {
                // Keep what was written before.
                tracing::warn!(volume = %v.name, %message, "cannot refresh volume");
                return Ok(MountedVolume {
                    host_path: dir,
                    read_only: true,
                });
            }
            Err(message) => return Err(err(message)),
        };
        if self.memory_backed_secrets && (plugin == SECRET || plugin == PROJECTED) {
            std::fs::create_dir_all(&dir).map_err(io).map_err(&err)?;
            mount_tmpfs(&dir, "0755", None).map_err(&err)?;
        }
        atomic_writer::write(&dir, &payload)
            .map_err(io)
            .map_err(&err)?;
        Ok(MountedVolume {
            host_path: dir,
            read_only: true,
        })
    }

    /// The payload of an atomic-writer volume, with its plugin directory.
    async fn payload(
        &self,
        pod: &Pod,
        v: &Volume,
    ) -> Option<(&'static str, Result<Payload, String>)> {
        let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
        if let Some(c) = &v.config_map {
            let cm = self.host.config_map(ns, &c.name).await;
            return Some((
                CONFIG_MAP,
                cm.and_then(|cm| {
                    payload::config_map(
                        cm.as_ref(),
                        &c.name,
                        c.items.as_deref(),
                        c.default_mode,
                        c.optional.unwrap_or(false),
                    )
                }),
            ));
        }
        if let Some(s) = &v.secret {
            let name = s.secret_name.clone().unwrap_or_default();
            let obj = self.host.secret(ns, &name).await;
            return Some((
                SECRET,
                obj.and_then(|o| {
                    payload::secret(
                        o.as_ref(),
                        &name,
                        s.items.as_deref(),
                        s.default_mode,
                        s.optional.unwrap_or(false),
                    )
                }),
            ));
        }
        if let Some(d) = &v.downward_api {
            return Some((
                DOWNWARD_API,
                payload::downward_api(pod, d.items.as_deref().unwrap_or(&[]), d.default_mode),
            ));
        }
        if let Some(p) = &v.projected {
            return Some((PROJECTED, self.projected(pod, v, p).await));
        }
        None
    }

    async fn projected(
        &self,
        pod: &Pod,
        v: &Volume,
        p: &k8s_openapi::api::core::v1::ProjectedVolumeSource,
    ) -> Result<Payload, String> {
        let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
        let uid = pod.metadata.uid.as_deref().unwrap_or_default();
        let mode = p.default_mode;
        let mut out = Payload::new();
        for source in p.sources.as_deref().unwrap_or(&[]) {
            let part = if let Some(c) = &source.config_map {
                let cm = self.host.config_map(ns, &c.name).await?;
                payload::config_map(
                    cm.as_ref(),
                    &c.name,
                    c.items.as_deref(),
                    mode,
                    c.optional.unwrap_or(false),
                )?
            } else if let Some(s) = &source.secret {
                let obj = self.host.secret(ns, &s.name).await?;
                payload::secret(
                    obj.as_ref(),
                    &s.name,
                    s.items.as_deref(),
                    mode,
                    s.optional.unwrap_or(false),
                )?
            } else if let Some(d) = &source.downward_api {
                payload::downward_api(pod, d.items.as_deref().unwrap_or(&[]), mode)?
            } else if let Some(t) = &source.service_account_token {
                let expiration = t.expiration_seconds.unwrap_or(3600);
                let key = format!("{uid}/{}/{}", v.name, t.path);
                let now = chrono::Utc::now().timestamp();
                let cached = self.tokens.lock().get(&key).cloned();
                let token = match cached.filter(|c| !needs_refresh(c, expiration, now)) {
                    Some(t) => t,
                    None => {
                        let sa = pod
                            .spec
                            .as_ref()
                            .and_then(|s| s.service_account_name.as_deref())
                            .filter(|s| !s.is_empty())
                            .unwrap_or("default");
                        let fresh = self
                            .host
                            .request_token(&TokenParams {
                                namespace: ns,
                                service_account: sa,
                                audience: t.audience.as_deref().filter(|a| !a.is_empty()),
                                expiration_seconds: expiration,
                                pod_name: pod.metadata.name.as_deref().unwrap_or_default(),
                                pod_uid: uid,
                            })
                            .await
                            .map_err(|e| format!("failed to fetch token: {e}"))?;
                        self.tokens.lock().insert(key, fresh.clone());
                        fresh
                    }
                };
                Payload::from([(
                    t.path.clone(),
                    atomic_writer::FileProjection {
                        data: token.token.into_bytes(),
                        mode: mode.unwrap_or(payload::DEFAULT_MODE) as u32 & 0o7777,
                    },
                )])
            } else {
                continue;
            };
            out.extend(part);
        }
        Ok(out)
    }

    async fn claim(
        &self,
        pod: &Pod,
        claim_name: &str,
        read_only: bool,
    ) -> Result<MountedVolume, VolumeError> {
        let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
        let fail = |why: String| {
            VolumeError::Claim(format!("error processing PVC {ns}/{claim_name}: {why}"))
        };
        let claim = self
            .host
            .claim(ns, claim_name)
            .await
            .map_err(|e| fail(format!("failed to fetch PVC from API server: {e}")))?
            .ok_or_else(|| {
                fail(format!(
                    "failed to fetch PVC from API server: persistentvolumeclaims \"{claim_name}\" not found"
                ))
            })?;
        let bound = claim.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound");
        let pv_name = claim
            .spec
            .as_ref()
            .and_then(|s| s.volume_name.clone())
            .filter(|n| !n.is_empty());
        let (true, Some(pv_name)) = (bound, pv_name) else {
            return Err(fail("PVC is not bound".into()));
        };
        let pv = self
            .host
            .volume(&pv_name)
            .await
            .map_err(|e| fail(format!("failed to fetch PV {pv_name} from API server: {e}")))?
            .ok_or_else(|| {
                fail(format!(
                    "failed to fetch PV {pv_name} from API server: persistentvolumes \"{pv_name}\" not found"
                ))
            })?;
        let spec = pv.spec.unwrap_or_default();
        let path = if let Some(h) = &spec.host_path {
            host_path::check_type(Path::new(&h.path), h.type_.as_deref().unwrap_or_default())
                .map_err(set_up_err(&pv_name))?;
            h.path.clone()
        } else if let Some(l) = &spec.local {
            if !Path::new(&l.path).exists() {
                return Err(set_up_err(&pv_name)(format!(
                    "path {:?} does not exist",
                    l.path
                )));
            }
            l.path.clone()
        } else {
            return Err(set_up_err(&pv_name)(
                "only hostPath and local persistent volumes are supported".into(),
            ));
        };
        Ok(MountedVolume {
            host_path: PathBuf::from(path),
            read_only,
        })
    }

    /// kubelet's local storage eviction for emptyDir: the message of the
    /// first disk-medium emptyDir whose usage exceeds its sizeLimit (memory
    /// ones are bounded by their tmpfs size).
    pub fn empty_dir_over_limit(&self, pod: &Pod) -> Option<String> {
        let uid = pod.metadata.uid.as_deref().unwrap_or_default();
        let volumes = pod.spec.as_ref()?.volumes.as_deref()?;
        volumes.iter().find_map(|v| {
            let e = v.empty_dir.as_ref()?;
            if e.medium.as_deref() == Some("Memory") {
                return None;
            }
            let limit = e.size_limit.as_ref()?;
            let bytes = crate::kuberuntime::config::memory_bytes(&limit.0)?;
            let used = disk_usage(&self.plugin_dir(uid, EMPTY_DIR, &v.name));
            (used > bytes as u64).then(|| {
                format!(
                    "Usage of EmptyDir volume \"{}\" exceeds the limit \"{}\". ",
                    v.name, limit.0
                )
            })
        })
    }

    /// Unmounts and removes the pod's volume directories (not hostPath or
    /// persistent volumes, which live elsewhere).
    pub fn tear_down_pod(&self, uid: &str) {
        let dir = self.pod_volumes_dir(uid);
        self.tokens
            .lock()
            .retain(|k, _| !k.starts_with(&format!("{uid}/")));
        if !dir.exists() {
            return;
        }
        let mut mounts = mounts_under(&dir);
        // Deepest first.
        mounts.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
        for m in mounts {
            if let Err(e) = rustix::mount::unmount(&m, rustix::mount::UnmountFlags::DETACH) {
                tracing::warn!(path = %m.display(), error = %e, "cannot unmount volume");
                return;
            }
        }
        if let Err(e) = std::fs::remove_dir_all(&dir) {
            tracing::warn!(path = %dir.display(), error = %e, "cannot remove pod volumes");
        }
    }
}

/// The CRI mounts of a container's volumeMounts (kubelet's makeMounts):
/// subPath/subPathExpr below the volume (created if missing), read-only
/// when the mount or the plugin says so, propagation as asked.
pub fn container_mounts(
    c: &Container,
    volumes: &PodVolumes,
    env: &HashMap<String, String>,
) -> Result<Vec<api::Mount>, String> {
    let mut out = vec![];
    for m in c.volume_mounts.as_deref().unwrap_or(&[]) {
        let vol = volumes.get(&m.name).ok_or_else(|| {
            format!(
                "cannot find volume {:?} to mount into container {:?}",
                m.name, c.name
            )
        })?;
        let mut host = vol.host_path.clone();
        let sub = match (&m.sub_path, &m.sub_path_expr) {
            (Some(s), _) if !s.is_empty() => Some(s.clone()),
            (_, Some(e)) if !e.is_empty() => Some(crate::kuberuntime::env::expand(e, env)),
            _ => None,
        };
        if let Some(sub) = sub {
            atomic_writer::validate_path(&sub)
                .map_err(|e| format!("invalid subPath {sub:?}: {e}"))?;
            host = host.join(&sub);
            if std::fs::symlink_metadata(&host).is_err() && !vol.read_only {
                std::fs::create_dir_all(&host)
                    .map_err(|e| format!("cannot create subPath {}: {e}", host.display()))?;
            }
        }
        let propagation = match m.mount_propagation.as_deref() {
            Some("HostToContainer") => api::MountPropagation::PropagationHostToContainer,
            Some("Bidirectional") => api::MountPropagation::PropagationBidirectional,
            _ => api::MountPropagation::PropagationPrivate,
        };
        out.push(api::Mount {
            container_path: m.mount_path.clone(),
            host_path: host.display().to_string(),
            readonly: m.read_only.unwrap_or(false) || vol.read_only,
            propagation: propagation as i32,
            ..Default::default()
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
