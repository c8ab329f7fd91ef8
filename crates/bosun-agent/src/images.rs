//! Images the agent provides itself (no registry is needed): the sandbox
//! (pause) image and a busybox image for tests, both built from Debian's
//! static busybox, and the import of image tarballs into containerd's
//! `k8s.io` namespace (where the CRI plugin looks).

use std::path::{Path, PathBuf};

use tokio::process::Command;

use crate::error::AgentError;
use crate::oci::{build_image, Entry, ImageConfig};

/// The sandbox image the agent builds and imports at start.
pub const PAUSE_IMAGE: &str = "bosun.local/pause:3.10";
/// Debian's busybox-static.
pub const BUSYBOX: &str = "/bin/busybox";
/// containerd's namespace for CRI.
pub const CRI_NAMESPACE: &str = "k8s.io";

/// busybox applets linked in the test image's /bin.
const APPLETS: &[&str] = &[
    "sh", "ash", "cat", "echo", "env", "false", "grep", "head", "hostname", "httpd", "id", "ip",
    "kill", "ls", "mkdir", "nc", "nslookup", "ping", "ps", "pwd", "rm", "sleep", "tail", "test",
    "top", "touch", "true", "uname", "wc", "wget", "whoami", "date", "seq", "sed", "awk", "dd",
    "tr", "cut", "sort", "stat", "mount", "df", "free", "tar", "tty", "stty", "cp", "mv",
];

fn read_busybox(busybox: &Path) -> Result<Vec<u8>, AgentError> {
    std::fs::read(busybox).map_err(|source| AgentError::Io {
        what: "read busybox (apt-get install busybox-static)",
        path: busybox.to_path_buf(),
        source,
    })
}

fn base_entries(busybox: Vec<u8>) -> Vec<Entry> {
    let mut e: Vec<Entry> = ["bin", "dev", "etc", "proc", "sys", "tmp", "var", "root"]
        .iter()
        .map(|d| Entry::Dir((*d).to_string()))
        .collect();
    e.push(Entry::File {
        path: "bin/busybox".into(),
        data: busybox,
        mode: 0o755,
    });
    e.push(Entry::File {
        path: "etc/passwd".into(),
        data: b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n".to_vec(),
        mode: 0o644,
    });
    e.push(Entry::File {
        path: "etc/group".into(),
        data: b"root:x:0:\nnogroup:x:65534:\n".to_vec(),
        mode: 0o644,
    });
    e
}

/// The sandbox image: busybox sleeping forever as PID 1 (the sandbox's
/// namespaces outlive the app containers through it).
pub fn pause_image(busybox: &Path) -> Result<Vec<u8>, AgentError> {
    let entries = base_entries(read_busybox(busybox)?);
    Ok(build_image(
        PAUSE_IMAGE,
        &entries,
        &ImageConfig {
            entrypoint: vec!["/bin/busybox".into(), "sleep".into(), "2147483647".into()],
            ..Default::default()
        },
    ))
}

/// A small busybox image (shell, httpd, common applets; `/www/index.html`
/// for `httpd -h /www`), default command `sh`.
pub fn busybox_image(reference: &str, busybox: &Path) -> Result<Vec<u8>, AgentError> {
    let mut entries = base_entries(read_busybox(busybox)?);
    for applet in APPLETS {
        entries.push(Entry::Symlink {
            path: format!("bin/{applet}"),
            target: "busybox".into(),
        });
    }
    entries.push(Entry::Dir("www".into()));
    entries.push(Entry::File {
        path: "www/index.html".into(),
        data: b"hello from bosun\n".to_vec(),
        mode: 0o644,
    });
    Ok(build_image(
        reference,
        &entries,
        &ImageConfig {
            cmd: vec!["sh".into()],
            ..Default::default()
        },
    ))
}

/// Imports image tarballs into containerd (namespace `k8s.io`) through
/// `ctr`, the tool Debian's containerd ships.
pub async fn import(ctr: &str, socket: &Path, files: &[PathBuf]) -> Result<(), AgentError> {
    for file in files {
        let out = Command::new(ctr)
            .arg("--address")
            .arg(socket)
            .args(["--namespace", CRI_NAMESPACE, "images", "import"])
            .arg(file)
            .output()
            .await
            .map_err(|source| AgentError::Spawn {
                what: ctr.to_string(),
                source,
            })?;
        if !out.status.success() {
            return Err(AgentError::ImageImport {
                file: file.clone(),
                message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        tracing::info!(file = %file.display(), "image imported");
    }
    Ok(())
}

/// The tarballs in `dir` (`*.tar`), sorted; none if it does not exist.
pub fn tarballs_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(read) = std::fs::read_dir(dir) else {
        return vec![];
    };
    let mut files: Vec<PathBuf> = read
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "tar"))
        .collect();
    files.sort();
    files
}

/// Builds the pause image into `<dir>/pause.tar` and imports it along with
/// every tarball of `<images_dir>`.
pub async fn import_at_start(
    ctr: &str,
    socket: &Path,
    work_dir: &Path,
    images_dir: &Path,
    busybox: &Path,
) -> Result<(), AgentError> {
    let pause = work_dir.join("pause.tar");
    std::fs::write(&pause, pause_image(busybox)?).map_err(|source| AgentError::Io {
        what: "write pause image",
        path: pause.clone(),
        source,
    })?;
    let mut files = vec![pause];
    files.extend(tarballs_in(images_dir));
    import(ctr, socket, &files).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tarballs_are_found_sorted() {
        let dir = tempfile::tempdir().unwrap();
        for f in ["b.tar", "a.tar", "c.txt"] {
            std::fs::write(dir.path().join(f), b"x").unwrap();
        }
        let found: Vec<_> = tarballs_in(dir.path())
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().to_string())
            .collect();
        assert_eq!(found, ["a.tar", "b.tar"]);
        assert!(tarballs_in(&dir.path().join("missing")).is_empty());
    }

    #[test]
    fn missing_busybox_is_a_typed_error() {
        let err = pause_image(Path::new("/nonexistent/busybox")).unwrap_err();
        assert!(matches!(err, AgentError::Io { .. }), "{err}");
    }
}
