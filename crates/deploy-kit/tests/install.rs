//! scripts/install fails closed: a release archive is installed only over https (redirects too),
//! only when its sha256 matches the sums committed in the checkout (`releases/<tag>.sha256`),
//! only for a platform the release has (never a silent source build), and only when the binary
//! runs here and reports the version asked for. Archives come from a loopback https server.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{Release, Server, archive_name, release, serve, tag, triple};

/// The part of a checkout the installer needs, with `releases/<tag>.sha256` when given.
fn checkout(sums: Option<&str>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = test_support::workspace_root();
    std::fs::create_dir_all(dir.path().join("scripts")).unwrap();
    for f in ["scripts/install", "scripts/lib.sh", "Cargo.toml"] {
        std::fs::copy(root.join(f), dir.path().join(f)).unwrap();
    }
    if let Some(sums) = sums {
        std::fs::create_dir_all(dir.path().join("releases")).unwrap();
        std::fs::write(dir.path().join(format!("releases/{}.sha256", tag())), sums).unwrap();
    }
    dir
}

struct Run<'a> {
    checkout: &'a Path,
    cache: &'a Path,
    prefix: &'a Path,
    env: Vec<(&'a str, String)>,
    args: Vec<&'a str>,
}

impl<'a> Run<'a> {
    fn new(checkout: &'a Path, cache: &'a Path, prefix: &'a Path, server: &Server) -> Self {
        Run {
            checkout,
            cache,
            prefix,
            env: vec![
                ("DK_VERSION", tag()),
                ("DK_RELEASE_BASE_URL", server.url.clone()),
                ("CURL_CA_BUNDLE", server.ca.display().to_string()),
            ],
            args: vec![],
        }
    }
    fn set(mut self, k: &'a str, v: &str) -> Self {
        self.env.retain(|(key, _)| *key != k);
        self.env.push((k, v.to_string()));
        self
    }
    fn run(self) -> (Option<i32>, String) {
        let out: Output = Command::new(self.checkout.join("scripts/install"))
            .env_remove("GITHUB_PATH")
            .env_remove("DK_INPUT_VERSION")
            .env_remove("DK_ACTION_REF")
            .env_remove("DK_PREFIX")
            .env("HOME", self.cache)
            .env("DK_CACHE", self.cache)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .arg("--prefix")
            .arg(self.prefix)
            .args(&self.args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

/// Fresh cache, prefix and certificate directories.
fn temp_dirs() -> (tempfile::TempDir, tempfile::TempDir, tempfile::TempDir) {
    let dir = || tempfile::tempdir().unwrap();
    (dir(), dir(), dir())
}

fn https(rel: &Release, certs: &Path) -> Server {
    serve(rel.served.path(), certs, "https")
}

/// One install's surroundings: a checkout recording `sums`, fresh cache, prefix and
/// certificate directories, and `rel` served over https.
struct Install {
    co: tempfile::TempDir,
    cache: tempfile::TempDir,
    prefix: tempfile::TempDir,
    certs: tempfile::TempDir,
    server: Server,
}

impl Install {
    fn new(rel: &Release, sums: Option<&str>) -> Install {
        let co = checkout(sums);
        let (cache, prefix, certs) = temp_dirs();
        let server = https(rel, certs.path());
        Install {
            co,
            cache,
            prefix,
            certs,
            server,
        }
    }

    /// The installer into this prefix from this server.
    fn run(&self) -> Run<'_> {
        Run::new(
            self.co.path(),
            self.cache.path(),
            self.prefix.path(),
            &self.server,
        )
    }
}

/// Tampers with a file after its sum was recorded.
fn flip_middle_byte(path: &Path) {
    let mut bytes = std::fs::read(path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(path, bytes).unwrap();
}

fn assert_nothing_installed(prefix: &Path, stderr: &str) {
    assert!(
        !prefix.join("bin/deploy-kit").exists(),
        "installed although it failed:\n{stderr}"
    );
    assert!(
        !stderr.contains("building deploy-kit from source"),
        "fell back to a source build:\n{stderr}"
    );
}

/// A verified release installs with a link per tool; a second install from the cache needs no
/// server at all (the unpacked binary is reused); a tampered cached binary is not used;
/// --if-missing then leaves the install alone.
#[test]
fn verified_release_installs_and_is_cached() {
    let rel = release();
    let install = Install::new(&rel, Some(&rel.sums));
    let (code, err) = install.run().run();
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("sha256 verified against releases/"), "{err}");
    for tool in [
        "deploy-kit",
        "ecr-push",
        "ecs-roll",
        "wait-stable",
        "rds-snapshot",
    ] {
        assert!(
            install.prefix.path().join("bin").join(tool).exists(),
            "{tool} not installed"
        );
    }
    let url = install.server.url.clone();
    drop(install.server);

    // Cached: the server is gone, the verified archive in the cache is enough. (A live server
    // only lends the runs below its CA bundle; they name the dead URL.)
    let lender = https(&rel, install.certs.path());
    let again = tempfile::tempdir().unwrap();
    let (code, err) = Run::new(
        install.co.path(),
        install.cache.path(),
        again.path(),
        &lender,
    )
    .set("DK_RELEASE_BASE_URL", &url)
    .run();
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("unpacked from the verified"), "{err}");
    assert!(!err.contains("downloading"), "{err}");

    // A cached binary changed after it was unpacked is not used: the verified archive is.
    let unpacked = install
        .cache
        .path()
        .join("downloads")
        .join(archive_name(triple()).trim_end_matches(".tar.gz"))
        .join("deploy-kit");
    flip_middle_byte(&unpacked);
    let third = tempfile::tempdir().unwrap();
    let (code, err) = Run::new(
        install.co.path(),
        install.cache.path(),
        third.path(),
        &lender,
    )
    .set("DK_RELEASE_BASE_URL", &url)
    .run();
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("using the verified"), "{err}");
    assert!(!err.contains("unpacked from"), "{err}");
    assert_eq!(
        std::fs::read(third.path().join("bin/deploy-kit")).unwrap(),
        std::fs::read(again.path().join("bin/deploy-kit")).unwrap(),
        "the tampered cached binary was installed"
    );

    // --if-missing: already there, nothing downloaded, nothing replaced.
    let mut run = Run::new(
        install.co.path(),
        install.cache.path(),
        again.path(),
        &lender,
    )
    .set("DK_RELEASE_BASE_URL", "https://127.0.0.1:9");
    run.args.push("--if-missing");
    let (code, err) = run.run();
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("already installed"), "{err}");
}

/// An archive changed after its sum was recorded is refused.
#[test]
fn tampered_archive_fails_closed() {
    let rel = release();
    let install = Install::new(&rel, Some(&rel.sums));
    flip_middle_byte(&rel.archive);
    let (code, err) = install.run().run();
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("checksum mismatch"), "{err}");
    assert_nothing_installed(install.prefix.path(), &err);
    assert!(
        !install
            .cache
            .path()
            .join("downloads")
            .join(archive_name(triple()))
            .exists()
    );
}

/// A truncated download is refused.
#[test]
fn truncated_archive_fails_closed() {
    let rel = release();
    let install = Install::new(&rel, Some(&rel.sums));
    let bytes = std::fs::read(&rel.archive).unwrap();
    std::fs::write(&rel.archive, &bytes[..bytes.len() / 3]).unwrap();
    let (code, err) = install.run().run();
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("checksum mismatch"), "{err}");
    assert_nothing_installed(install.prefix.path(), &err);
}

/// A release without an archive for this platform is an error naming the platforms it has — no
/// source build. An archive whose binary does not run here is refused too.
#[test]
fn wrong_platform_fails_closed() {
    let rel = release();
    let other = "aarch64-apple-darwin";
    let sums = rel.sums.replace(triple(), other);
    let install = Install::new(&rel, Some(&sums));
    let (code, err) = install.run().run();
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "no release archive for this platform ({})",
            triple()
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!("it is released for: {other}")),
        "{err}"
    );
    assert_nothing_installed(install.prefix.path(), &err);

    // The right name, a binary for another machine inside (its sum recorded, so only running
    // it can tell).
    common::make_archive(&rel.archive, b"\x7fELF\x02\x01\x01\0not-for-this-machine");
    let sums = format!(
        "{}  {}\n",
        common::sha256_hex(&rel.archive),
        archive_name(triple())
    );
    let co = checkout(Some(&sums));
    let (code, err) = Run {
        checkout: co.path(),
        ..install.run()
    }
    .run();
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("does not run on this machine"), "{err}");
    assert_nothing_installed(install.prefix.path(), &err);
}

/// No sums committed for the version: nothing is downloaded, nothing installed.
#[test]
fn missing_checksums_fail_closed() {
    let rel = release();
    let install = Install::new(&rel, None);
    let (code, err) = install.run().run();
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(&format!("no sha256 sums for {} are committed", tag())),
        "{err}"
    );
    assert!(!err.contains("downloading"), "{err}");
    assert_nothing_installed(install.prefix.path(), &err);
}

/// Plain http is refused, as a base URL and as a redirect from https.
#[test]
fn plain_http_fails_closed() {
    let rel = release();
    let install = Install::new(&rel, Some(&rel.sums));
    let plain = serve(rel.served.path(), install.certs.path(), "http");
    let (code, err) = install.run().set("DK_RELEASE_BASE_URL", &plain.url).run();
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("https only"), "{err}");
    assert_nothing_installed(install.prefix.path(), &err);

    let redirecting = format!("{}/redirect-to-http", install.server.url);
    let (code, err) = install.run().set("DK_RELEASE_BASE_URL", &redirecting).run();
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("Protocol \"http\" not supported"), "{err}");
    assert_nothing_installed(install.prefix.path(), &err);
}

/// With no version given, a tag ref picks the newest release recorded under it; a tag with no
/// recorded release is an error, not a source build.
#[test]
fn default_version_follows_the_action_ref() {
    let rel = release();
    let install = Install::new(&rel, Some(&rel.sums));
    let major = tag().split('.').next().unwrap().to_string();
    let (code, err) = install
        .run()
        .set("DK_VERSION", "")
        .set("DK_ACTION_REF", &major)
        .run();
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains(&format!("installed deploy-kit {}", tag())),
        "{err}"
    );

    let other = tempfile::tempdir().unwrap();
    let (code, err) = Run {
        prefix: other.path(),
        ..install.run()
    }
    .set("DK_VERSION", "")
    .set("DK_ACTION_REF", "v97")
    .run();
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("names no release recorded"), "{err}");
    assert_nothing_installed(other.path(), &err);
}
