//! Writes the published OpenAPI documents to a directory, for inspection or
//! for serving them from a stub server in end-to-end checks with kubectl.
//!
//! Usage: `cargo run -p bosun-openapi --example dump -- <out-dir>`
//!
//! Layout: `<out>/v3.json` (the index), `<out>/v3/<gv-path>.json` (one per
//! group-version, e.g. `v3/apis/apps/v1.json`), `<out>/v2.pb` and `<out>/v2.json`.

use std::path::PathBuf;
use std::time::Instant;

fn main() -> std::io::Result<()> {
    let out = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "openapi-dump".into()),
    );
    let started = Instant::now();
    let index = bosun_openapi::index();
    eprintln!("rendered all documents in {:?}", started.elapsed());
    std::fs::create_dir_all(out.join("v3"))?;
    std::fs::write(out.join("v3.json"), index.to_string())?;
    for key in bosun_openapi::group_version_paths() {
        let Some(text) = bosun_openapi::document(&key) else {
            continue;
        };
        let file = out.join("v3").join(format!("{key}.json"));
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&file, text.as_bytes())?;
        eprintln!("{} ({} bytes)", file.display(), text.len());
    }
    std::fs::write(out.join("v2.pb"), bosun_openapi::v2_protobuf())?;
    std::fs::write(out.join("v2.json"), bosun_openapi::v2_json().to_string())?;
    Ok(())
}
