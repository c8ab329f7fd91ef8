//! Termination messages (kubelet's terminationMessagePath handling): each
//! container start gets an empty file under the pod's directory,
//! bind-mounted at terminationMessagePath; when the container exits, the
//! file (or, with FallbackToLogsOnError after a failure, the log's tail)
//! becomes state.terminated.message.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::Container;

use crate::cri::api;

/// kubelet's annotations carrying the path and policy to the status read.
pub const ANNOTATION_TERMINATION_MESSAGE_PATH: &str =
    "io.kubernetes.container.terminationMessagePath";
pub const ANNOTATION_TERMINATION_MESSAGE_POLICY: &str =
    "io.kubernetes.container.terminationMessagePolicy";
pub const DEFAULT_PATH: &str = "/dev/termination-log";
/// Largest message read from the file (kubelet: 4096 bytes).
const MAX_MESSAGE: u64 = 4096;
/// FallbackToLogsOnError: the log's last 80 lines, at most 2048 bytes.
const LOG_LINES: usize = 80;
const LOG_BYTES: usize = 2048;

pub fn message_path(c: &Container) -> String {
    c.termination_message_path
        .clone()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| DEFAULT_PATH.into())
}

pub fn message_policy(c: &Container) -> String {
    c.termination_message_policy
        .clone()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "File".into())
}

/// Creates the host file for one start of `c` (`<pod dir>/.termination/
/// <name>.<attempt>`, world-writable as kubelet makes it) and returns the
/// mount and the annotations to add to its config.
pub fn prepare(
    pod_dir: &Path,
    c: &Container,
    attempt: u32,
) -> std::io::Result<(api::Mount, Vec<(String, String)>)> {
    let dir = pod_dir.join(".termination");
    std::fs::create_dir_all(&dir)?;
    let file: PathBuf = dir.join(format!("{}.{attempt}", c.name));
    std::fs::write(&file, b"")?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666))?;
    }
    let path = message_path(c);
    let mount = api::Mount {
        container_path: path.clone(),
        host_path: file.display().to_string(),
        ..Default::default()
    };
    Ok((
        mount,
        vec![
            (ANNOTATION_TERMINATION_MESSAGE_PATH.into(), path),
            (
                ANNOTATION_TERMINATION_MESSAGE_POLICY.into(),
                message_policy(c),
            ),
        ],
    ))
}

fn read_limited(path: &Path) -> Option<String> {
    let mut f = std::fs::File::open(path).ok()?;
    let mut buf = vec![];
    (&mut f).take(MAX_MESSAGE).read_to_end(&mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf).into_owned())
}

/// The text of a CRI log file's last lines (timestamps, streams and tags
/// stripped; partial lines joined).
pub fn log_tail(path: &Path, lines: usize, bytes: usize) -> Option<String> {
    let mut f = std::fs::File::open(path).ok()?;
    let len = f.metadata().ok()?.len();
    // Enough of the file's end for `lines` lines of `bytes` text in all.
    let window = (bytes as u64 * 4 + 64 * lines as u64).min(len);
    f.seek(SeekFrom::Start(len - window)).ok()?;
    let mut raw = vec![];
    f.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw);
    let mut out: Vec<String> = vec![];
    let mut partial = String::new();
    let mut first = window < len;
    for line in text.lines() {
        if std::mem::take(&mut first) {
            // The window may start mid-line.
            continue;
        }
        let mut parts = line.splitn(4, ' ');
        let (_ts, _stream, tag, msg) = (parts.next(), parts.next(), parts.next(), parts.next());
        let msg = msg.unwrap_or_default();
        partial.push_str(msg);
        if tag != Some("P") {
            out.push(std::mem::take(&mut partial));
        }
    }
    let start = out.len().saturating_sub(lines);
    let mut joined = out[start..].join("\n");
    if !joined.is_empty() {
        joined.push('\n');
    }
    if joined.len() > bytes {
        let mut cut = joined.len() - bytes;
        while !joined.is_char_boundary(cut) {
            cut += 1;
        }
        joined = joined[cut..].to_string();
    }
    Some(joined)
}

/// The termination message of an exited container, as kubelet finds it.
pub fn read_message(status: &api::ContainerStatus) -> String {
    let Some(path) = status.annotations.get(ANNOTATION_TERMINATION_MESSAGE_PATH) else {
        return String::new();
    };
    let from_file = status
        .mounts
        .iter()
        .find(|m| &m.container_path == path)
        .and_then(|m| read_limited(Path::new(&m.host_path)))
        .unwrap_or_default();
    let fallback = status
        .annotations
        .get(ANNOTATION_TERMINATION_MESSAGE_POLICY)
        .is_some_and(|p| p == "FallbackToLogsOnError");
    if from_file.is_empty() && fallback && status.exit_code != 0 && !status.log_path.is_empty() {
        return log_tail(Path::new(&status.log_path), LOG_LINES, LOG_BYTES).unwrap_or_default();
    }
    from_file
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn message_from_file_or_log_tail() {
        let dir = tempfile::tempdir().unwrap();
        let c: Container = serde_json::from_value(
            json!({"name": "app", "terminationMessagePolicy": "FallbackToLogsOnError"}),
        )
        .unwrap();
        let (mount, ann) = prepare(dir.path(), &c, 0).unwrap();
        assert_eq!(mount.container_path, "/dev/termination-log");
        let log = dir.path().join("app.log");
        let mut text = String::new();
        for i in 0..100 {
            text.push_str(&format!(
                "2026-01-01T00:00:00.000000000Z stdout F line {i}\n"
            ));
        }
        text.push_str("2026-01-01T00:00:00.000000000Z stderr P half \n");
        text.push_str("2026-01-01T00:00:00.000000000Z stderr F and end\n");
        std::fs::write(&log, text).unwrap();
        let mut st = api::ContainerStatus {
            annotations: ann.into_iter().collect(),
            mounts: vec![mount.clone()],
            exit_code: 1,
            log_path: log.display().to_string(),
            ..Default::default()
        };
        let m = read_message(&st);
        assert!(m.ends_with("line 99\nhalf and end\n"), "{m:?}");
        assert_eq!(m.lines().count(), 80);
        assert!(m.starts_with("line 21\n"), "{m:?}");
        // Success: no fallback.
        st.exit_code = 0;
        assert_eq!(read_message(&st), "");
        // The file wins.
        std::fs::write(&mount.host_path, "bye").unwrap();
        st.exit_code = 1;
        assert_eq!(read_message(&st), "bye");
    }
}
