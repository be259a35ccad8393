//! Shared by the installer and act tests: a loopback file server (https with a throwaway
//! certificate, or plain http) and a fake release of this build, with its sha256 sums recorded
//! the way a release records them (`releases/<tag>.sha256` in the checkout). [`aws`]: the
//! database and the `prod/web` command lines the end-to-end tests share (tests/pipeline.rs, at
//! the repository's top, includes this module by path).

#![allow(dead_code)]

pub mod aws;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use test_support::{bin_path, workspace_root};

/// The version this build reports; the fake release is tagged `v` + this.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

pub fn tag() -> String {
    format!("v{VERSION}")
}

/// The platform triple scripts/install names archives after, on this machine.
pub fn triple() -> &'static str {
    match (std::env::consts::OS, std::env::consts::ARCH) {
        ("linux", "x86_64") => "x86_64-unknown-linux-gnu",
        ("linux", "aarch64") => "aarch64-unknown-linux-gnu",
        ("macos", "aarch64") => "aarch64-apple-darwin",
        ("macos", "x86_64") => "x86_64-apple-darwin",
        other => panic!("no release triple for {other:?}"),
    }
}

pub fn archive_name(triple: &str) -> String {
    format!("deploy-kit-{}-{triple}.tar.gz", tag())
}

/// A file server on 127.0.0.1; killed on drop.
pub struct Server {
    child: Child,
    pub url: String,
    /// The certificate to trust (CURL_CA_BUNDLE) for https.
    pub ca: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

pub fn serve(dir: &Path, cert_dir: &Path, scheme: &str) -> Server {
    let mut child = Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/common/serve.py"))
        .arg(dir)
        .arg(cert_dir)
        .arg(scheme)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port: u16 = line.trim().parse().expect("serve.py prints its port");
    Server {
        child,
        url: format!("{scheme}://127.0.0.1:{port}"),
        ca: cert_dir.join("cert.pem"),
    }
}

/// A tar.gz holding `deploy-kit` with the given bytes (stripped when it is a binary, gzip -1:
/// the debug build is large and the machine is shared).
pub fn make_archive(path: &Path, binary: &[u8]) {
    let stage = tempfile::tempdir().unwrap();
    let bin = stage.path().join("deploy-kit");
    std::fs::write(&bin, binary).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    // Best effort: a file strip does not understand stays as it is.
    let _ = Command::new("strip")
        .arg(&bin)
        .stderr(Stdio::null())
        .status();
    let st = Command::new("bash")
        .arg("-c")
        .arg("tar -cf - -C \"$1\" deploy-kit | gzip -1 > \"$2\"")
        .arg("archive")
        .arg(stage.path())
        .arg(path)
        .status()
        .unwrap();
    assert!(st.success());
}

pub fn sha256_hex(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    String::from_utf8(out.stdout).unwrap()[..64].to_string()
}

/// A release of this build for this platform: `<root>/<tag>/<archive>` to serve, and the sums
/// line to record in a checkout's `releases/<tag>.sha256`.
pub struct Release {
    pub served: tempfile::TempDir,
    pub archive: PathBuf,
    pub sums: String,
}

pub fn release() -> Release {
    let served = tempfile::tempdir().unwrap();
    let dir = served.path().join(tag());
    std::fs::create_dir_all(&dir).unwrap();
    let archive = dir.join(archive_name(triple()));
    make_archive(&archive, &std::fs::read(bin_path("deploy-kit")).unwrap());
    let sums = format!("{}  {}\n", sha256_hex(&archive), archive_name(triple()));
    Release {
        served,
        archive,
        sums,
    }
}

/// A copy of this checkout's tracked and new files (no target/, nothing ignored), a git
/// repository of its own (linters find the project by it), with
/// `releases/<tag>.sha256` recording `sums` when given: what a user's runner checks out.
pub fn checkout_copy(sums: Option<&str>) -> tempfile::TempDir {
    let root = workspace_root();
    let out = Command::new("git")
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .current_dir(&root)
        .output()
        .unwrap();
    assert!(out.status.success());
    let copy = tempfile::tempdir().unwrap();
    for rel in out.stdout.split(|b| *b == 0).filter(|s| !s.is_empty()) {
        let rel = Path::new(std::str::from_utf8(rel).unwrap());
        let from = root.join(rel);
        if !from.is_file() {
            continue;
        }
        let to = copy.path().join(rel);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&from, &to).unwrap();
    }
    let st = Command::new("git")
        .args(["init", "-q", "-b", "main"])
        .current_dir(copy.path())
        .status()
        .unwrap();
    assert!(st.success());
    if let Some(sums) = sums {
        std::fs::create_dir_all(copy.path().join("releases")).unwrap();
        std::fs::write(copy.path().join(format!("releases/{}.sha256", tag())), sums).unwrap();
    }
    copy
}

/// A minimal OCI layout (one layer that is never unpacked), written by hand: the same bytes,
/// so the same digest, on every run (hostile_text, snapshots).
pub fn tiny_layout(dir: &std::path::Path) {
    use sha2::Digest as _;
    let put = |bytes: &[u8]| {
        let hex = hex::encode(sha2::Sha256::digest(bytes));
        std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
        std::fs::write(dir.join("blobs/sha256").join(&hex), bytes).unwrap();
        (format!("sha256:{hex}"), bytes.len())
    };
    let (layer, layer_len) = put(b"not really a tar, never read");
    let (config, config_len) =
        put(br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#);
    let manifest = serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": config_len},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer, "size": layer_len}],
    });
    let manifest = serde_json::to_vec(&manifest).unwrap();
    let (m, m_len) = put(&manifest);
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": m, "size": m_len}]});
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
}

/// An OCI image layout of the project's small app image at `dir` (scripts/make-oci-image.py,
/// which the workflows run too), tagged `tag`, reporting `version`; its manifest digest.
pub fn make_oci_image(dir: &Path, tag: &str, version: &str) -> String {
    let out = run_ok(
        Command::new("python3")
            .arg(workspace_root().join("scripts/make-oci-image.py"))
            .arg(dir)
            .args(["--tag", tag, "--version", version]),
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Run `cmd` to completion; it must succeed (its stderr is shown when it does not).
pub fn run_ok(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}
