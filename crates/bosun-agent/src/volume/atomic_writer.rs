//! kubelet's AtomicWriter: a volume's files are written into a fresh
//! timestamped directory `..<time>`, published by renaming a `..data`
//! symlink onto it, and exposed through one top-level symlink per entry
//! (`key -> ..data/key`). A reader sees the old or the new set, never a
//! mix; an unchanged payload writes nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Component, Path};

const DATA_DIR: &str = "..data";
const DATA_DIR_TMP: &str = "..data_tmp";

/// One file of a volume's payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileProjection {
    pub data: Vec<u8>,
    pub mode: u32,
}

/// Relative path → file.
pub type Payload = BTreeMap<String, FileProjection>;

/// A payload path must be relative, without `..` elements, and not start
/// with `..` (reserved for the writer's own entries).
pub fn validate_path(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err("invalid path: must not be empty".into());
    }
    if path.starts_with("..") {
        return Err(format!("invalid path: must not start with '..': {path}"));
    }
    let p = Path::new(path);
    if p.is_absolute() {
        return Err(format!("invalid path: must be relative path: {path}"));
    }
    if p.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(format!("invalid path: must not contain '..': {path}"));
    }
    Ok(())
}

fn first_component(path: &str) -> &str {
    path.split('/').find(|s| !s.is_empty()).unwrap_or(path)
}

/// Files under `dir` (relative paths), with contents and modes.
fn read_payload(dir: &Path) -> io::Result<Payload> {
    fn walk(root: &Path, dir: &Path, out: &mut Payload) -> io::Result<()> {
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            let path = entry.path();
            let meta = fs::symlink_metadata(&path)?;
            if meta.is_dir() {
                walk(root, &path, out)?;
            } else {
                let rel = path
                    .strip_prefix(root)
                    .map_err(io::Error::other)?
                    .to_string_lossy()
                    .into_owned();
                out.insert(
                    rel,
                    FileProjection {
                        data: fs::read(&path)?,
                        mode: meta.permissions().mode() & 0o7777,
                    },
                );
            }
        }
        Ok(())
    }
    let mut out = Payload::new();
    walk(dir, dir, &mut out)?;
    Ok(out)
}

/// Writes `payload` into `target` (created if missing). Returns whether
/// anything changed.
pub fn write(target: &Path, payload: &Payload) -> io::Result<bool> {
    for path in payload.keys() {
        validate_path(path).map_err(io::Error::other)?;
    }
    fs::create_dir_all(target)?;
    let data_link = target.join(DATA_DIR);
    let old_ts = fs::read_link(&data_link).ok();
    if let Some(old) = &old_ts {
        if read_payload(&target.join(old)).ok().as_ref() == Some(payload) {
            return Ok(false);
        }
    }
    // The new timestamped directory.
    let stamp = chrono::Utc::now()
        .format("..%Y_%m_%d_%H_%M_%S.%f")
        .to_string();
    let ts_name = (0..1000)
        .map(|i| format!("{stamp}{i}"))
        .find(|n| !target.join(n).exists())
        .ok_or_else(|| io::Error::other("no free timestamped directory name"))?;
    let ts_dir = target.join(&ts_name);
    fs::create_dir(&ts_dir)?;
    fs::set_permissions(&ts_dir, fs::Permissions::from_mode(0o755))?;
    for (path, file) in payload {
        let full = ts_dir.join(path);
        if let Some(parent) = full.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::write(&full, &file.data)?;
        fs::set_permissions(&full, fs::Permissions::from_mode(file.mode))?;
    }
    // Publish: `..data_tmp -> ts`, renamed over `..data`.
    let tmp_link = target.join(DATA_DIR_TMP);
    let _ = fs::remove_file(&tmp_link);
    symlink(&ts_name, &tmp_link)?;
    fs::rename(&tmp_link, &data_link)?;
    // User-visible entries.
    let wanted: BTreeSet<&str> = payload.keys().map(|p| first_component(p)).collect();
    for name in &wanted {
        let link = target.join(name);
        if fs::symlink_metadata(&link).is_err() {
            symlink(Path::new(DATA_DIR).join(name), &link)?;
        }
    }
    for entry in fs::read_dir(target)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("..") || wanted.contains(name.as_str()) {
            continue;
        }
        fs::remove_file(entry.path())?;
    }
    if let Some(old) = old_ts {
        let old_dir = target.join(old);
        if old_dir != ts_dir {
            let _ = fs::remove_dir_all(old_dir);
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(data: &str, mode: u32) -> FileProjection {
        FileProjection {
            data: data.as_bytes().to_vec(),
            mode,
        }
    }

    #[test]
    fn writes_the_kubelet_layout_and_updates_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("vol");
        let mut payload = Payload::from([
            ("a".to_string(), file("1", 0o644)),
            ("sub/b".to_string(), file("2", 0o600)),
        ]);
        assert!(write(&target, &payload).unwrap());
        let ts = fs::read_link(target.join("..data")).unwrap();
        assert!(ts.to_string_lossy().starts_with("..20"), "{ts:?}");
        assert_eq!(
            fs::read_link(target.join("a")).unwrap(),
            Path::new("..data/a")
        );
        assert_eq!(
            fs::read_link(target.join("sub")).unwrap(),
            Path::new("..data/sub")
        );
        assert_eq!(fs::read_to_string(target.join("sub/b")).unwrap(), "2");
        let mode = fs::metadata(target.join("sub/b"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        // Unchanged: nothing written.
        assert!(!write(&target, &payload).unwrap());
        assert_eq!(fs::read_link(target.join("..data")).unwrap(), ts);
        // Changed: a new directory, stale entries and the old directory gone.
        payload.remove("sub/b");
        payload.insert("a".into(), file("3", 0o644));
        assert!(write(&target, &payload).unwrap());
        assert_ne!(fs::read_link(target.join("..data")).unwrap(), ts);
        assert_eq!(fs::read_to_string(target.join("a")).unwrap(), "3");
        assert!(fs::symlink_metadata(target.join("sub")).is_err());
        assert!(!target.join(&ts).exists());
        let names: BTreeSet<String> = fs::read_dir(&target)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with("..20"))
            .collect();
        assert_eq!(names, BTreeSet::from(["..data".into(), "a".into()]));
    }

    #[test]
    fn refuses_paths_that_escape() {
        assert!(validate_path("../x").is_err());
        assert!(validate_path("a/../../x").is_err());
        assert!(validate_path("/etc/x").is_err());
        assert!(validate_path("..data").is_err());
        assert!(validate_path("a/b").is_ok());
    }
}
