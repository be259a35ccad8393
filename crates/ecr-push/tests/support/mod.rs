//! Skopeo helpers to check what landed in a registry, and the fault proxy. The test images
//! themselves come from the one generator in test-support (`test_support::oci`), re-exported here.
#![allow(dead_code)]

pub mod fault_proxy;

pub use test_support::oci::*;

use std::process::Command;

use serde_json::Value;

/// `skopeo inspect --raw`'s bytes digest (the manifest digest the registry serves) for a ref.
pub fn skopeo_digest(reference: &str, creds: Option<&str>) -> String {
    let mut cmd = Command::new("skopeo");
    cmd.args(["inspect", "--raw", "--tls-verify=false"]);
    if let Some(c) = creds {
        cmd.args(["--creds", c]);
    }
    let out = cmd
        .arg(format!("docker://{reference}"))
        .output()
        .expect("run skopeo");
    assert!(
        out.status.success(),
        "skopeo inspect {reference}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    sha256(&out.stdout)
}

/// `skopeo inspect --raw`, parsed.
pub fn skopeo_inspect_raw(reference: &str) -> Value {
    let out = Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{reference}"))
        .output()
        .expect("run skopeo");
    assert!(
        out.status.success(),
        "skopeo inspect {reference}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `skopeo inspect` (not raw) succeeds and names the digest.
pub fn skopeo_inspect(reference: &str, creds: Option<&str>) -> Value {
    let mut cmd = Command::new("skopeo");
    cmd.args(["inspect", "--tls-verify=false"]);
    if let Some(c) = creds {
        cmd.args(["--creds", c]);
    }
    let out = cmd
        .arg(format!("docker://{reference}"))
        .output()
        .expect("run skopeo");
    assert!(
        out.status.success(),
        "skopeo inspect {reference}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Copy an image back out of the registry into a fresh OCI layout with skopeo and return the
/// digest of the manifest it wrote (`--all` keeps an index whole).
pub fn skopeo_roundtrip_oci(reference: &str, creds: Option<&str>) -> String {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("out");
    let mut cmd = Command::new("skopeo");
    cmd.args([
        "copy",
        "--all",
        "--preserve-digests",
        "--src-tls-verify=false",
    ]);
    if let Some(c) = creds {
        cmd.args(["--src-creds", c]);
    }
    let out = cmd
        .arg(format!("docker://{reference}"))
        .arg(format!("oci:{}:rt", dest.display()))
        .output()
        .expect("run skopeo");
    assert!(
        out.status.success(),
        "skopeo copy {reference}: {}",
        String::from_utf8_lossy(&out.stderr)
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
    let out = Command::new("skopeo")
        .args(["copy", "--src-tls-verify=false"])
        .arg(format!("docker://{reference}"))
        .arg(format!("dir:{}", dest.display()))
        .output()
        .expect("run skopeo");
    assert!(
        out.status.success(),
        "skopeo copy {reference}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    sha256(&std::fs::read(dest.join("manifest.json")).unwrap())
}
