//! Skopeo helpers to check what landed in a registry, and the fault proxy. The test images
//! themselves come from the one generator in test-support (`test_support::oci`), re-exported here.
#![allow(dead_code)]

pub mod fault_proxy;

pub use test_support::oci::*;

use std::process::Command;

use serde_json::Value;

/// Run `skopeo ARGS [CREDS_FLAG CREDS] docker://REFERENCE [DEST]`, asserting it succeeds; its
/// stdout.
fn skopeo(args: &[&str], creds: Option<(&str, &str)>, reference: &str, dest: &[String]) -> Vec<u8> {
    let mut cmd = Command::new("skopeo");
    cmd.args(args);
    if let Some((flag, c)) = creds {
        cmd.args([flag, c]);
    }
    let out = cmd
        .arg(format!("docker://{reference}"))
        .args(dest)
        .output()
        .expect("run skopeo");
    assert!(
        out.status.success(),
        "skopeo {} {reference}: {}",
        args[0],
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

const INSPECT_RAW: [&str; 3] = ["inspect", "--raw", "--tls-verify=false"];

/// `skopeo inspect --raw`'s bytes digest (the manifest digest the registry serves) for a ref.
pub fn skopeo_digest(reference: &str, creds: Option<&str>) -> String {
    let creds = creds.map(|c| ("--creds", c));
    sha256(&skopeo(&INSPECT_RAW, creds, reference, &[]))
}

/// `skopeo inspect --raw`, parsed.
pub fn skopeo_inspect_raw(reference: &str) -> Value {
    serde_json::from_slice(&skopeo(&INSPECT_RAW, None, reference, &[])).unwrap()
}

/// `skopeo inspect` (not raw) succeeds and names the digest.
pub fn skopeo_inspect(reference: &str, creds: Option<&str>) -> Value {
    let inspect = ["inspect", "--tls-verify=false"];
    let creds = creds.map(|c| ("--creds", c));
    serde_json::from_slice(&skopeo(&inspect, creds, reference, &[])).unwrap()
}

/// Copy an image back out of the registry into a fresh OCI layout with skopeo and return the
/// digest of the manifest it wrote (`--all` keeps an index whole).
pub fn skopeo_roundtrip_oci(reference: &str, creds: Option<&str>) -> String {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("out");
    let copy = [
        "copy",
        "--all",
        "--preserve-digests",
        "--src-tls-verify=false",
    ];
    let creds = creds.map(|c| ("--src-creds", c));
    skopeo(
        &copy,
        creds,
        reference,
        &[format!("oci:{}:rt", dest.display())],
    );
    let index: Value =
        serde_json::from_slice(&std::fs::read(dest.join("index.json")).unwrap()).unwrap();
    index["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Copy an image back out into a `dir:` directory (manifest kept byte for byte, any format) and
/// return the sha256 of the manifest written.
pub fn skopeo_roundtrip_dir(reference: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("out");
    let copy = ["copy", "--src-tls-verify=false"];
    skopeo(&copy, None, reference, &[format!("dir:{}", dest.display())]);
    sha256(&std::fs::read(dest.join("manifest.json")).unwrap())
}
