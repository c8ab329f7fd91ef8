//! Writes one-layer OCI image layout tarballs (what `ctr images import`
//! and `docker load`-style tools read): an uncompressed ustar layer, the
//! image config, the manifest and an index naming the image.

use ring::digest;
use serde_json::json;

/// One entry of the image's single layer.
#[derive(Debug, Clone)]
pub enum Entry {
    Dir(String),
    File {
        path: String,
        data: Vec<u8>,
        mode: u32,
    },
    Symlink {
        path: String,
        target: String,
    },
}

/// What the image runs.
#[derive(Debug, Clone, Default)]
pub struct ImageConfig {
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub working_dir: String,
}

fn sha256_hex(data: &[u8]) -> String {
    digest::digest(&digest::SHA256, data)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A ustar archive writer (names under 100 bytes; enough for images the
/// project builds itself).
#[derive(Default)]
pub struct Tar {
    out: Vec<u8>,
}

fn octal(field: &mut [u8], value: u64) {
    // Right-aligned, zero-padded octal digits followed by NUL.
    let digits = field.len() - 1;
    let s = format!("{value:0digits$o}");
    let bytes = s.as_bytes();
    let start = bytes.len().saturating_sub(digits);
    field[..digits].copy_from_slice(&bytes[start..]);
    field[digits] = 0;
}

impl Tar {
    fn header(&mut self, name: &str, mode: u32, size: u64, kind: u8, link: &str) {
        let mut h = [0u8; 512];
        let name = name.as_bytes();
        let n = name.len().min(99);
        h[..n].copy_from_slice(&name[..n]);
        octal(&mut h[100..108], u64::from(mode));
        octal(&mut h[108..116], 0);
        octal(&mut h[116..124], 0);
        octal(&mut h[124..136], size);
        octal(&mut h[136..148], 0);
        h[156] = kind;
        let link = link.as_bytes();
        let l = link.len().min(99);
        h[157..157 + l].copy_from_slice(&link[..l]);
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].copy_from_slice(b"        ");
        let sum: u64 = h.iter().map(|&b| u64::from(b)).sum();
        let s = format!("{sum:06o}\0 ");
        h[148..156].copy_from_slice(s.as_bytes());
        self.out.extend_from_slice(&h);
    }

    pub fn dir(&mut self, path: &str) {
        let name = format!("{}/", path.trim_end_matches('/'));
        self.header(&name, 0o755, 0, b'5', "");
    }

    pub fn file(&mut self, path: &str, data: &[u8], mode: u32) {
        self.header(path, mode, data.len() as u64, b'0', "");
        self.out.extend_from_slice(data);
        let pad = (512 - data.len() % 512) % 512;
        self.out.extend(std::iter::repeat_n(0u8, pad));
    }

    pub fn symlink(&mut self, path: &str, target: &str) {
        self.header(path, 0o777, 0, b'2', target);
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.out.extend(std::iter::repeat_n(0u8, 1024));
        self.out
    }
}

/// The OCI architecture name of this machine.
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// Builds the image layout tarball for `reference` (e.g.
/// `docker.io/library/busybox:bosun`).
pub fn build_image(reference: &str, entries: &[Entry], config: &ImageConfig) -> Vec<u8> {
    let mut layer = Tar::default();
    for e in entries {
        match e {
            Entry::Dir(p) => layer.dir(p),
            Entry::File { path, data, mode } => layer.file(path, data, *mode),
            Entry::Symlink { path, target } => layer.symlink(path, target),
        }
    }
    let layer = layer.finish();
    let layer_digest = format!("sha256:{}", sha256_hex(&layer));
    let mut cfg = json!({
        "Env": if config.env.is_empty() {
            vec!["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string()]
        } else {
            config.env.clone()
        },
    });
    if !config.cmd.is_empty() {
        cfg["Cmd"] = json!(config.cmd);
    }
    if !config.entrypoint.is_empty() {
        cfg["Entrypoint"] = json!(config.entrypoint);
    }
    if !config.working_dir.is_empty() {
        cfg["WorkingDir"] = json!(config.working_dir);
    }
    let image_config = json!({
        "architecture": host_arch(),
        "os": "linux",
        "config": cfg,
        "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
        "history": [{"created_by": "bosun (one-layer image built in Rust)"}],
    });
    let config_bytes = image_config.to_string().into_bytes();
    let config_digest = format!("sha256:{}", sha256_hex(&config_bytes));
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": config_bytes.len(),
        },
        "layers": [{
            "mediaType": "application/vnd.oci.image.layer.v1.tar",
            "digest": layer_digest,
            "size": layer.len(),
        }],
    });
    let manifest_bytes = manifest.to_string().into_bytes();
    let manifest_digest = format!("sha256:{}", sha256_hex(&manifest_bytes));
    let tag = reference
        .rsplit_once(':')
        .map(|(_, t)| t)
        .unwrap_or("latest");
    let index = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest,
            "size": manifest_bytes.len(),
            "platform": {"architecture": host_arch(), "os": "linux"},
            "annotations": {
                "io.containerd.image.name": reference,
                "org.opencontainers.image.ref.name": tag,
            },
        }],
    });
    let mut out = Tar::default();
    out.file("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#, 0o644);
    out.file("index.json", index.to_string().as_bytes(), 0o644);
    out.dir("blobs");
    out.dir("blobs/sha256");
    for (digest, data) in [
        (&layer_digest, &layer),
        (&config_digest, &config_bytes),
        (&manifest_digest, &manifest_bytes),
    ] {
        let hex = digest.trim_start_matches("sha256:");
        out.file(&format!("blobs/sha256/{hex}"), data, 0o644);
    }
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads (name, typeflag, size, link) of every member.
    fn members(tar: &[u8]) -> Vec<(String, u8, usize, String)> {
        let mut out = vec![];
        let mut off = 0;
        while off + 512 <= tar.len() && tar[off] != 0 {
            let h = &tar[off..off + 512];
            let cstr = |b: &[u8]| {
                String::from_utf8_lossy(b.split(|&c| c == 0).next().unwrap_or(&[])).to_string()
            };
            let size = usize::from_str_radix(cstr(&h[124..136]).trim(), 8).unwrap();
            // The checksum covers the header with its own field as spaces.
            let mut copy = h.to_vec();
            copy[148..156].copy_from_slice(b"        ");
            let sum: u64 = copy.iter().map(|&b| u64::from(b)).sum();
            assert_eq!(
                u64::from_str_radix(cstr(&h[148..154]).trim(), 8).unwrap(),
                sum
            );
            out.push((cstr(&h[..100]), h[156], size, cstr(&h[157..257])));
            off += 512 + size.div_ceil(512) * 512;
        }
        out
    }

    #[test]
    fn layout_and_digests() {
        let img = build_image(
            "docker.io/library/t:1",
            &[
                Entry::Dir("bin".into()),
                Entry::File {
                    path: "bin/x".into(),
                    data: vec![7; 700],
                    mode: 0o755,
                },
                Entry::Symlink {
                    path: "bin/y".into(),
                    target: "x".into(),
                },
            ],
            &ImageConfig {
                cmd: vec!["/bin/x".into()],
                ..Default::default()
            },
        );
        let m = members(&img);
        let names: Vec<_> = m.iter().map(|x| x.0.as_str()).collect();
        assert_eq!(
            &names[..4],
            &["oci-layout", "index.json", "blobs/", "blobs/sha256/"]
        );
        assert_eq!(m.len(), 7);
        // Every blob is stored under its own digest.
        let mut off = 0;
        while off + 512 <= img.len() && img[off] != 0 {
            let name =
                String::from_utf8_lossy(img[off..off + 100].split(|&c| c == 0).next().unwrap())
                    .to_string();
            let size = m.iter().find(|x| x.0 == name).unwrap().2;
            if let Some(hex) = name.strip_prefix("blobs/sha256/") {
                if !hex.is_empty() {
                    assert_eq!(sha256_hex(&img[off + 512..off + 512 + size]), hex);
                }
            }
            off += 512 + size.div_ceil(512) * 512;
        }
        // The layer holds the three entries, the symlink with its target.
        let layer_start = {
            let mut off = 0;
            let mut found = 0;
            for (name, _, size, _) in &m {
                if name.starts_with("blobs/sha256/") && *size > 1024 && *size % 512 == 0 {
                    found = off;
                }
                off += 512 + size.div_ceil(512) * 512;
            }
            found + 512
        };
        let layer = members(&img[layer_start..]);
        assert_eq!(layer[0].0, "bin/");
        assert_eq!((layer[1].1, layer[1].2), (b'0', 700));
        assert_eq!((layer[2].1, layer[2].3.as_str()), (b'2', "x"));
    }

    #[test]
    fn octal_fields() {
        let mut f = [0u8; 12];
        octal(&mut f, 700);
        assert_eq!(&f, b"00000001274\0");
    }
}
