//! Container logs read from CRI log files (kubelet's
//! `pkg/kubelet/kuberuntime/logs`): `RFC3339Nano stdout|stderr P|F text`
//! lines, partial (`P`) chunks joined to one line, then `tailLines`,
//! `sinceSeconds`/`sinceTime`, `timestamps` and `limitBytes` applied.

use std::io::SeekFrom;
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, FixedOffset, Utc};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::sync::mpsc;

/// What a client asked for (kubelet's `PodLogOptions`).
#[derive(Debug, Clone, Default)]
pub struct LogOptions {
    pub tail_lines: Option<usize>,
    /// Lines older than this are skipped.
    pub since: Option<DateTime<Utc>>,
    pub timestamps: bool,
    pub limit_bytes: Option<usize>,
    pub follow: bool,
}

/// One whole line of a container's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// As written by the runtime (RFC3339Nano).
    pub timestamp: String,
    pub time: Option<DateTime<FixedOffset>>,
    pub stderr: bool,
    /// The text, newline included.
    pub content: Vec<u8>,
}

impl LogLine {
    /// The line as sent to the client.
    pub fn render(&self, timestamps: bool) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.content.len() + 36);
        if timestamps {
            out.extend_from_slice(self.timestamp.as_bytes());
            out.push(b' ');
        }
        out.extend_from_slice(&self.content);
        out
    }
}

/// Joins partial chunks into lines; keeps one pending line per stream,
/// as stdout and stderr chunks may interleave.
#[derive(Debug, Default)]
pub struct LineParser {
    pending: [Option<LogLine>; 2],
    /// Bytes after the last newline seen (a line still being written).
    rest: Vec<u8>,
}

impl LineParser {
    /// Feeds raw file bytes; returns the lines completed by them.
    pub fn feed(&mut self, data: &[u8]) -> Vec<LogLine> {
        self.rest.extend_from_slice(data);
        let mut out = Vec::new();
        let mut start = 0;
        while let Some(pos) = self.rest[start..].iter().position(|b| *b == b'\n') {
            let end = start + pos;
            if let Some(line) = self.record(start, end) {
                out.push(line);
            }
            start = end + 1;
        }
        self.rest.drain(..start);
        out
    }

    fn record(&mut self, start: usize, end: usize) -> Option<LogLine> {
        let raw = &self.rest[start..end];
        let (timestamp, stderr, partial, text) = parse_record(raw)?;
        let slot = usize::from(stderr);
        let line = self.pending[slot].get_or_insert_with(|| LogLine {
            time: DateTime::parse_from_rfc3339(timestamp).ok(),
            timestamp: timestamp.to_string(),
            stderr,
            content: Vec::new(),
        });
        line.content.extend_from_slice(text);
        if partial {
            return None;
        }
        line.content.push(b'\n');
        self.pending[slot].take()
    }
}

/// Splits one CRI log record: (timestamp, stderr?, partial?, text).
pub fn parse_record(raw: &[u8]) -> Option<(&str, bool, bool, &[u8])> {
    let mut parts = raw.splitn(4, |b| *b == b' ');
    let timestamp = std::str::from_utf8(parts.next()?).ok()?;
    let stderr = match parts.next()? {
        b"stdout" => false,
        b"stderr" => true,
        _ => return None,
    };
    let partial = match parts.next()? {
        b"P" => true,
        b"F" => false,
        _ => return None,
    };
    Some((timestamp, stderr, partial, parts.next().unwrap_or(b"")))
}

/// Applies `since` and `tailLines` to a file's lines.
pub fn select(lines: Vec<LogLine>, opts: &LogOptions) -> Vec<LogLine> {
    let mut lines: Vec<LogLine> = match opts.since {
        Some(since) => lines
            .into_iter()
            .filter(|l| l.time.is_none_or(|t| t >= since))
            .collect(),
        None => lines,
    };
    if let Some(n) = opts.tail_lines {
        let skip = lines.len().saturating_sub(n);
        lines.drain(..skip);
    }
    lines
}

/// Cuts output at `limitBytes`.
#[derive(Debug)]
pub struct Limiter {
    left: Option<usize>,
}

impl Limiter {
    pub fn new(limit: Option<usize>) -> Self {
        Limiter { left: limit }
    }

    /// The part of `data` still within the limit.
    pub fn take(&mut self, mut data: Vec<u8>) -> Vec<u8> {
        if let Some(left) = self.left.as_mut() {
            data.truncate(*left);
            *left -= data.len();
        }
        data
    }

    pub fn exhausted(&self) -> bool {
        self.left == Some(0)
    }
}

/// Reads `path` and sends what `opts` selects to `out`; with `follow`,
/// keeps sending new lines until `running` answers false (the container
/// stopped) and the file is drained, or the receiver goes away.
pub async fn stream_file<F, Fut>(
    path: &Path,
    opts: LogOptions,
    out: mpsc::Sender<Bytes>,
    mut running: F,
) -> std::io::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let mut file = tokio::fs::File::open(path).await?;
    let mut parser = LineParser::default();
    let mut limiter = Limiter::new(opts.limit_bytes);
    let mut data = Vec::new();
    file.read_to_end(&mut data).await?;
    let mut offset = data.len() as u64;
    let lines = select(parser.feed(&data), &opts);
    if !send_lines(&out, lines, &opts, &mut limiter).await {
        return Ok(());
    }
    if !opts.follow {
        return Ok(());
    }
    let mut idle = Duration::ZERO;
    let poll = Duration::from_millis(100);
    loop {
        let mut chunk = Vec::new();
        file.seek(SeekFrom::Start(offset)).await?;
        file.read_to_end(&mut chunk).await?;
        offset += chunk.len() as u64;
        if !chunk.is_empty() {
            idle = Duration::ZERO;
            let lines = parser.feed(&chunk);
            let lines = match opts.since {
                Some(_) => select(
                    lines,
                    &LogOptions {
                        tail_lines: None,
                        ..opts.clone()
                    },
                ),
                None => lines,
            };
            if !send_lines(&out, lines, &opts, &mut limiter).await {
                return Ok(());
            }
            continue;
        }
        if out.is_closed() {
            return Ok(());
        }
        // Check the container about once a second, not on every poll.
        if idle >= Duration::from_secs(1) {
            idle = Duration::ZERO;
            if !running().await {
                // One last read: lines written just before the exit.
                let mut tail = Vec::new();
                file.seek(SeekFrom::Start(offset)).await?;
                file.read_to_end(&mut tail).await?;
                let lines = parser.feed(&tail);
                send_lines(&out, lines, &opts, &mut limiter).await;
                return Ok(());
            }
        }
        tokio::time::sleep(poll).await;
        idle += poll;
    }
}

/// Sends lines; false when the client is gone or the byte limit is hit.
async fn send_lines(
    out: &mpsc::Sender<Bytes>,
    lines: Vec<LogLine>,
    opts: &LogOptions,
    limiter: &mut Limiter,
) -> bool {
    if lines.is_empty() {
        return !limiter.exhausted();
    }
    let mut buf = Vec::new();
    for line in lines {
        buf.extend_from_slice(&line.render(opts.timestamps));
    }
    let buf = limiter.take(buf);
    if !buf.is_empty() && out.send(Bytes::from(buf)).await.is_err() {
        return false;
    }
    !limiter.exhausted()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "2026-11-27T10:00:00.000000001Z stdout F one\n\
2026-11-27T10:00:01.5Z stderr F two\n\
2026-11-27T10:00:02Z stdout P thr\n\
2026-11-27T10:00:02.1Z stderr F err-between\n\
2026-11-27T10:00:02.2Z stdout P e\n\
2026-11-27T10:00:02.3Z stdout F e!\n\
2026-11-27T10:00:03Z stdout F \n";

    fn lines() -> Vec<LogLine> {
        LineParser::default().feed(FILE.as_bytes())
    }

    fn text(lines: &[LogLine], timestamps: bool) -> String {
        lines
            .iter()
            .map(|l| String::from_utf8_lossy(&l.render(timestamps)).into_owned())
            .collect()
    }

    #[test]
    fn partial_chunks_are_joined_per_stream() {
        let got = lines();
        assert_eq!(text(&got, false), "one\ntwo\nerr-between\nthree!\n\n");
        assert!(got[1].stderr);
        // The joined line keeps its first chunk's timestamp.
        assert_eq!(got[3].timestamp, "2026-11-27T10:00:02Z");
    }

    #[test]
    fn a_line_split_across_reads_is_completed_by_the_next_read() {
        let mut parser = LineParser::default();
        assert!(parser.feed(b"2026-11-27T10:00:00Z stdout F hal").is_empty());
        let got = parser.feed(b"f\n2026-11-27T10:00:01Z stdout F x\n");
        assert_eq!(text(&got, false), "half\nx\n");
    }

    #[test]
    fn malformed_records_are_skipped() {
        let got = LineParser::default()
            .feed(b"garbage\n2026-11-27T10:00:00Z stdout F ok\nx stdin F no\n");
        assert_eq!(text(&got, false), "ok\n");
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        let opts = LogOptions {
            tail_lines: Some(2),
            ..Default::default()
        };
        assert_eq!(text(&select(lines(), &opts), false), "three!\n\n");
        let opts = LogOptions {
            tail_lines: Some(0),
            ..Default::default()
        };
        assert!(select(lines(), &opts).is_empty());
        let opts = LogOptions {
            tail_lines: Some(100),
            ..Default::default()
        };
        assert_eq!(select(lines(), &opts).len(), 5);
    }

    #[test]
    fn since_skips_older_lines() {
        let since = DateTime::parse_from_rfc3339("2026-11-27T10:00:01.5Z")
            .map(|t| t.with_timezone(&Utc))
            .ok();
        let opts = LogOptions {
            since,
            ..Default::default()
        };
        assert_eq!(
            text(&select(lines(), &opts), false),
            "two\nerr-between\nthree!\n\n"
        );
    }

    #[test]
    fn timestamps_prefix_each_line() {
        let got = lines();
        assert_eq!(
            text(&got[..2], true),
            "2026-11-27T10:00:00.000000001Z one\n2026-11-27T10:00:01.5Z two\n"
        );
    }

    #[test]
    fn limit_bytes_cuts_the_output() {
        let mut limiter = Limiter::new(Some(5));
        assert_eq!(limiter.take(b"one\n".to_vec()), b"one\n");
        assert_eq!(limiter.take(b"two\n".to_vec()), b"t");
        assert!(limiter.exhausted());
    }

    #[tokio::test]
    async fn follow_sends_appended_lines_until_the_container_stops() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("0.log");
        std::fs::write(&path, "2026-11-27T10:00:00Z stdout F first\n").expect("write");
        let (tx, mut rx) = mpsc::channel(8);
        let running = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let flag = running.clone();
        let opts = LogOptions {
            follow: true,
            ..Default::default()
        };
        let file = path.clone();
        let task = tokio::spawn(async move {
            stream_file(&file, opts, tx, move || {
                let flag = flag.clone();
                async move { flag.load(std::sync::atomic::Ordering::SeqCst) }
            })
            .await
        });
        assert_eq!(rx.recv().await.as_deref(), Some(&b"first\n"[..]));
        {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .open(&path)
                .expect("open");
            f.write_all(b"2026-11-27T10:00:01Z stdout F second\n")
                .expect("append");
        }
        assert_eq!(rx.recv().await.as_deref(), Some(&b"second\n"[..]));
        running.store(false, std::sync::atomic::Ordering::SeqCst);
        assert_eq!(rx.recv().await, None);
        assert!(task.await.expect("join").is_ok());
    }
}
