//! The one generator of test images: deterministic OCI layouts (single images and
//! multi-platform indexes) and `docker save` tarballs, from seeded random layers, for every suite
//! that pushes an image (ecr-push's end-to-end tests, the workspace's hostile-text test).

use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// Seeded random bytes.
pub fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut out = vec![0u8; len];
    rng.fill(&mut out);
    out
}

/// A layer tar holding one file of seeded random data.
pub fn layer_tar(seed: u64, len: usize) -> Vec<u8> {
    let data = random_bytes(seed, len);
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_cksum();
    b.append_data(&mut h, format!("data-{seed}.bin"), data.as_slice())
        .unwrap();
    b.into_inner().unwrap()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// One image written into a layout.
#[derive(Debug, Clone)]
pub struct BuiltImage {
    pub manifest_digest: String,
    pub manifest_size: u64,
    pub config_digest: String,
    pub layer_digests: Vec<String>,
    /// config + layers
    pub blob_count: usize,
}

pub fn write_blob(dir: &Path, bytes: &[u8]) -> String {
    let d = sha256(bytes);
    let p = dir.join("blobs/sha256").join(&d[7..]);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, bytes).unwrap();
    d
}

/// Path of a blob in a layout.
pub fn blob_file(dir: &Path, digest: &str) -> PathBuf {
    dir.join("blobs/sha256").join(&digest[7..])
}

/// Write one image (gzip layers of `sizes` random bytes each) into the layout's blobs.
pub fn write_image(dir: &Path, seed: u64, sizes: &[usize], arch: &str) -> BuiltImage {
    let mut layers = Vec::new();
    let mut diff_ids = Vec::new();
    for (i, &n) in sizes.iter().enumerate() {
        let tar = layer_tar(seed.wrapping_mul(1000).wrapping_add(i as u64), n);
        diff_ids.push(sha256(&tar));
        let gz = gzip(&tar);
        let d = write_blob(dir, &gz);
        layers.push(json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d, "size": gz.len()}));
    }
    let config = serde_json::to_vec(&json!({
        "architecture": arch, "os": "linux",
        "config": {"Env": [format!("SEED={seed}")]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }))
    .unwrap();
    let config_digest = write_blob(dir, &config);
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": layers,
    }))
    .unwrap();
    let manifest_digest = write_blob(dir, &manifest);
    BuiltImage {
        manifest_digest,
        manifest_size: manifest.len() as u64,
        config_digest,
        layer_digests: layers
            .iter()
            .map(|l| l["digest"].as_str().unwrap().to_string())
            .collect(),
        blob_count: sizes.len() + 1,
    }
}

fn write_index_json(dir: &Path, entries: Vec<Value>) {
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries});
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
}

/// A layout holding one image named `reference`.
pub fn oci_layout(dir: &Path, seed: u64, sizes: &[usize], reference: &str) -> BuiltImage {
    let img = write_image(dir, seed, sizes, "amd64");
    write_index_json(
        dir,
        vec![
            json!({"mediaType": OCI_MANIFEST, "digest": img.manifest_digest, "size": img.manifest_size,
                    "annotations": {"org.opencontainers.image.ref.name": reference}}),
        ],
    );
    img
}

/// A multi-platform image: an index over one image per architecture.
pub struct BuiltIndex {
    pub index_digest: String,
    pub images: Vec<(String, BuiltImage)>,
}

pub fn oci_index_layout(dir: &Path, seed: u64, arches: &[&str], reference: &str) -> BuiltIndex {
    let mut entries = Vec::new();
    let mut images = Vec::new();
    for (i, arch) in arches.iter().enumerate() {
        let img = write_image(
            dir,
            seed.wrapping_add(i as u64 * 7919),
            &[20_000, 3_000],
            arch,
        );
        entries.push(json!({"mediaType": OCI_MANIFEST, "digest": img.manifest_digest, "size": img.manifest_size,
                            "platform": {"architecture": arch, "os": "linux"}}));
        images.push((format!("linux/{arch}"), img));
    }
    let index = serde_json::to_vec(
        &json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}),
    )
    .unwrap();
    let index_digest = write_blob(dir, &index);
    write_index_json(
        dir,
        vec![
            json!({"mediaType": OCI_INDEX, "digest": index_digest, "size": index.len(),
                    "annotations": {"org.opencontainers.image.ref.name": reference}}),
        ],
    );
    BuiltIndex {
        index_digest,
        images,
    }
}

/// A `docker save` style tarball: manifest.json, `<hex>.json` config, `<id>/layer.tar` layers
/// (uncompressed, as docker writes them).
pub fn docker_archive(path: &Path, seed: u64, sizes: &[usize]) -> Vec<String> {
    let layers: Vec<Vec<u8>> = sizes
        .iter()
        .enumerate()
        .map(|(i, &n)| layer_tar(seed.wrapping_mul(1000).wrapping_add(i as u64), n))
        .collect();
    let diff_ids: Vec<String> = layers.iter().map(|l| sha256(l)).collect();
    let config = docker_config(&diff_ids);
    let config_name = format!("{}.json", &sha256(&config)[7..]);
    let layer_names = legacy_layer_paths(&diff_ids);
    let manifest = docker_save_manifest(&config_name, "web:latest", &layer_names);
    let mut b = tar::Builder::new(std::fs::File::create(path).unwrap());
    add_file(&mut b, &config_name, &config);
    for (name, data) in layer_names.iter().zip(&layers) {
        add_file(&mut b, name, data);
    }
    add_file(&mut b, "manifest.json", &manifest);
    b.into_inner().unwrap().flush().unwrap();
    diff_ids
}

/// An image config for linux/amd64 with these layers' diff-ids.
fn docker_config(diff_ids: &[String]) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "architecture": "amd64", "os": "linux", "config": {},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }))
    .unwrap()
}

/// `docker save`'s legacy `<id>/layer.tar` path of each layer.
fn legacy_layer_paths(diff_ids: &[String]) -> Vec<String> {
    diff_ids
        .iter()
        .map(|d| format!("{}/layer.tar", &d[7..]))
        .collect()
}

/// `docker save`'s manifest.json: one image, its config, one tag and its layers.
fn docker_save_manifest(config: &str, tag: &str, layers: &[String]) -> Vec<u8> {
    serde_json::to_vec(&json!([{"Config": config, "RepoTags": [tag], "Layers": layers}])).unwrap()
}

/// Add a regular file (mode 644, mtime 0) to a tarball.
fn add_file(b: &mut tar::Builder<std::fs::File>, name: &str, data: &[u8]) {
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_cksum();
    b.append_data(&mut h, name, data).unwrap();
}

/// A Docker 25+ style `docker save` tarball: blobs under `blobs/sha256/`, legacy
/// `<id>/layer.tar` paths as symlinks into them (what manifest.json names here), and a second
/// layer stored gzip-compressed (as other tools write). Returns (diff-ids, layer digests).
pub fn docker_archive_v25(path: &Path, seed: u64) -> (Vec<String>, Vec<String>) {
    let tars = [
        layer_tar(seed.wrapping_mul(1000), 20_000),
        layer_tar(seed.wrapping_mul(1000).wrapping_add(1), 7_000),
    ];
    let diff_ids: Vec<String> = tars.iter().map(|l| sha256(l)).collect();
    let blobs = [tars[0].clone(), gzip(&tars[1])];
    let digests: Vec<String> = blobs.iter().map(|b| sha256(b)).collect();
    let config = docker_config(&diff_ids);
    let config_path = format!("blobs/sha256/{}", &sha256(&config)[7..]);
    let links = legacy_layer_paths(&diff_ids);
    let manifest = docker_save_manifest(&config_path, "web:v25", &links);
    let mut b = tar::Builder::new(std::fs::File::create(path).unwrap());
    let add = add_file;
    add(&mut b, &config_path, &config);
    for (blob, digest) in blobs.iter().zip(&digests) {
        add(&mut b, &format!("blobs/sha256/{}", &digest[7..]), blob);
    }
    for (link, digest) in links.iter().zip(&digests) {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        h.set_mode(0o777);
        h.set_mtime(0);
        b.append_link(&mut h, link, format!("../blobs/sha256/{}", &digest[7..]))
            .unwrap();
    }
    add(&mut b, "manifest.json", &manifest);
    b.into_inner().unwrap().flush().unwrap();
    (diff_ids, digests)
}
