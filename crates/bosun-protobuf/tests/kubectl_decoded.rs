//! Randomly generated bodies whose expected JSON was produced by kubectl 1.32
//! decoding them (see `tests/fixtures/kubectl-1.32-decoded/README.md`).

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use bosun_protobuf::decode_to_json;
use serde_json::Value;

#[test]
fn random_bodies_decode_like_kubectl() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/kubectl-1.32-decoded");
    let names = [
        "deployment-random",
        "cronjob-random",
        "service-random",
        "pdb-random",
        "secret-random",
        "quota-random",
        "event-random",
    ];
    for name in names {
        let body = std::fs::read(dir.join(format!("{name}.pb"))).unwrap();
        let text = std::fs::read_to_string(dir.join(format!("{name}.json"))).unwrap();
        let want: Value = serde_json::from_str(&text).unwrap();
        let got = decode_to_json(&body).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(got, want, "{name}");
        assert_eq!(
            serde_json::to_string(&got).unwrap(),
            serde_json::to_string(&want).unwrap(),
            "{name}: key order differs"
        );
    }
}
