//! `docker save` tarballs (`docker-archive:FILE[:REPO:TAG]`): `manifest.json`, a config JSON and
//! one tar per layer, legacy (`<id>/layer.tar`) or Docker 25+ (`blobs/sha256/<hex>`, with
//! symlinks). Layers are pushed as they are in the tarball — uncompressed layers with the
//! `diff.tar` media type and their diff-id as digest, as `docker push` of a saved image would
//! describe them — under a Docker v2 schema 2 manifest built here.
//!
//! The tarball is indexed once (member → byte offset) and blobs stream straight from those
//! offsets, so nothing is extracted. Every layer is hashed while opening: a docker archive has
//! no layer digests of its own to trust, and a corrupt tarball must exit 2 before any network.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use crate::image::{Blob, BlobLocation, ImagePlan, ManifestDoc};
use crate::manifest::{
    DOCKER_CONFIG, DOCKER_LAYER_GZIP, DOCKER_LAYER_TAR, DOCKER_MANIFEST, sha256_digest,
};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Member {
    File { offset: u64, size: u64 },
    Link(String),
}

/// Every member of a tarball: path → where its bytes are.
#[derive(Debug, Default)]
pub struct TarIndex {
    members: HashMap<String, Member>,
}

fn normalize(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    parts.join("/")
}

impl TarIndex {
    /// Read a tarball's headers (skipping over the data) into an index.
    pub fn read(path: &Path) -> Result<TarIndex, String> {
        let file = File::open(path)
            .map_err(|e| format!("{}: cannot open the tarball: {e}", path.display()))?;
        let mut magic = [0u8; 2];
        if (&file).read_exact(&mut magic).is_ok() && magic == [0x1f, 0x8b] {
            return Err(format!(
                "{} is gzip-compressed; `gunzip` it first (docker save writes a plain tar)",
                path.display()
            ));
        }
        (&file)
            .seek(SeekFrom::Start(0))
            .map_err(|e| e.to_string())?;
        let mut archive = tar::Archive::new(file);
        let mut members = HashMap::new();
        let entries = archive
            .entries()
            .map_err(|e| format!("{}: corrupt tarball: {e}", path.display()))?;
        for entry in entries {
            let entry = entry.map_err(|e| format!("{}: corrupt tarball: {e}", path.display()))?;
            let name = entry
                .path()
                .map_err(|e| format!("{}: corrupt tarball: {e}", path.display()))?
                .to_string_lossy()
                .to_string();
            let name = normalize(&name);
            let kind = entry.header().entry_type();
            if kind.is_symlink() || kind.is_hard_link() {
                if let Ok(Some(target)) = entry.link_name() {
                    let target = target.to_string_lossy().to_string();
                    let resolved = if kind.is_symlink() {
                        let parent = name.rsplit_once('/').map_or("", |(p, _)| p);
                        normalize(&format!("{parent}/{target}"))
                    } else {
                        normalize(&target)
                    };
                    members.insert(name, Member::Link(resolved));
                }
            } else if kind.is_file() {
                members.insert(
                    name,
                    Member::File {
                        offset: entry.raw_file_position(),
                        size: entry.size(),
                    },
                );
            }
        }
        if members.is_empty() {
            return Err(format!(
                "{}: corrupt tarball: no files in it",
                path.display()
            ));
        }
        Ok(TarIndex { members })
    }

    /// Offset and size of a member, following links.
    pub fn locate(&self, name: &str) -> Option<(u64, u64)> {
        let mut name = normalize(name);
        for _ in 0..8 {
            match self.members.get(&name)? {
                Member::File { offset, size } => return Some((*offset, *size)),
                Member::Link(t) => name = t.clone(),
            }
        }
        None
    }
}

#[derive(Deserialize)]
struct ArchiveEntry {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers")]
    layers: Vec<String>,
}

#[derive(Deserialize)]
struct ImageConfig {
    rootfs: Option<RootFs>,
}

#[derive(Deserialize)]
struct RootFs {
    #[serde(default)]
    diff_ids: Vec<String>,
}

fn read_range(path: &Path, offset: u64, size: u64, limit: u64) -> Result<Vec<u8>, String> {
    if size > limit {
        return Err(format!("a {size}-byte metadata file is too large"));
    }
    let mut f = File::open(path).map_err(|e| e.to_string())?;
    f.seek(SeekFrom::Start(offset)).map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; size as usize];
    f.read_exact(&mut buf)
        .map_err(|e| format!("{}: corrupt tarball (truncated): {e}", path.display()))?;
    Ok(buf)
}

/// Hash a byte range in bounded chunks; also returns its first bytes (for compression sniffing).
fn hash_range(path: &Path, offset: u64, size: u64) -> Result<(String, Vec<u8>), String> {
    let mut f = File::open(path).map_err(|e| e.to_string())?;
    f.seek(SeekFrom::Start(offset)).map_err(|e| e.to_string())?;
    let mut f = f.take(size);
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut head = Vec::new();
    let mut total = 0u64;
    loop {
        let n = f
            .read(&mut buf)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if n == 0 {
            break;
        }
        if head.len() < 4 {
            head.extend_from_slice(&buf[..n.min(4 - head.len())]);
        }
        h.update(&buf[..n]);
        total += n as u64;
    }
    if total != size {
        return Err(format!(
            "{}: corrupt tarball (truncated layer)",
            path.display()
        ));
    }
    Ok((format!("sha256:{}", hex::encode(h.finalize())), head))
}

/// Open a `docker save` tarball and build the push plan. `reference` picks one image by its
/// `REPO:TAG` when the archive holds several.
pub fn open(path: &Path, reference: Option<&str>) -> Result<ImagePlan, String> {
    let meta =
        std::fs::metadata(path).map_err(|e| format!("{}: no such file ({e})", path.display()))?;
    if !meta.is_file() {
        return Err(format!(
            "{} is not a file (for an OCI layout directory use oci:DIR)",
            path.display()
        ));
    }
    let index = TarIndex::read(path)?;
    let entries = read_entries(path, &index)?;
    let entry = pick_entry(path, &entries, reference)?;
    let (config_blob, diff_ids) = read_config(path, &index, entry)?;
    let layers = hash_layers(path, &index, entry, &diff_ids)?;
    build_plan(config_blob, layers)
}

/// `manifest.json`: the images the archive holds.
fn read_entries(path: &Path, index: &TarIndex) -> Result<Vec<ArchiveEntry>, String> {
    let (off, size) = index.locate("manifest.json").ok_or_else(|| {
        format!(
            "{}: not a docker save tarball (no manifest.json)",
            path.display()
        )
    })?;
    let bytes = read_range(path, off, size, 16 << 20)?;
    serde_json::from_slice(&bytes)
        .map_err(|e| format!("{}: corrupt manifest.json: {e}", path.display()))
}

/// The one image, or the one tagged `reference`.
fn pick_entry<'a>(
    path: &Path,
    entries: &'a [ArchiveEntry],
    reference: Option<&str>,
) -> Result<&'a ArchiveEntry, String> {
    match (reference, entries) {
        (_, []) => Err(format!("{}: manifest.json lists no images", path.display())),
        (None, [only]) => Ok(only),
        (None, _) => Err(format!(
            "{} holds {} images; pick one with docker-archive:FILE:REPO:TAG",
            path.display(),
            entries.len()
        )),
        (Some(r), _) => entries
            .iter()
            .find(|e| {
                e.repo_tags
                    .as_ref()
                    .is_some_and(|t| t.iter().any(|t| t == r))
            })
            .ok_or_else(|| format!("{}: no image tagged `{r}` in the archive", path.display())),
    }
}

/// The image config as a blob, and the layer diff-ids it records (one per layer).
fn read_config(
    path: &Path,
    index: &TarIndex,
    entry: &ArchiveEntry,
) -> Result<(Blob, Vec<String>), String> {
    let (coff, csize) = index.locate(&entry.config).ok_or_else(|| {
        format!(
            "{}: corrupt tarball: config {} is missing",
            path.display(),
            entry.config
        )
    })?;
    let config_bytes = read_range(path, coff, csize, 16 << 20)?;
    let config: ImageConfig = serde_json::from_slice(&config_bytes)
        .map_err(|e| format!("{}: corrupt image config: {e}", path.display()))?;
    let diff_ids = config.rootfs.map(|r| r.diff_ids).unwrap_or_default();
    if diff_ids.len() != entry.layers.len() {
        return Err(format!(
            "{}: corrupt tarball: the config lists {} layers, manifest.json {}",
            path.display(),
            diff_ids.len(),
            entry.layers.len()
        ));
    }
    let config_blob = Blob {
        digest: sha256_digest(&config_bytes),
        size: csize,
        media_type: DOCKER_CONFIG.into(),
        location: BlobLocation::File {
            path: PathBuf::from(path),
            offset: coff,
        },
    };
    Ok((config_blob, diff_ids))
}

/// Every layer hashed where it lies; an uncompressed one must hash to its diff-id.
fn hash_layers(
    path: &Path,
    index: &TarIndex,
    entry: &ArchiveEntry,
    diff_ids: &[String],
) -> Result<Vec<Blob>, String> {
    let mut layers = Vec::new();
    for (name, diff_id) in entry.layers.iter().zip(diff_ids) {
        let (loff, lsize) = index.locate(name).ok_or_else(|| {
            format!(
                "{}: corrupt tarball: layer {name} is missing",
                path.display()
            )
        })?;
        let (digest, head) = hash_range(path, loff, lsize)?;
        let media_type = if head.starts_with(&[0x1f, 0x8b]) {
            DOCKER_LAYER_GZIP
        } else {
            if &digest != diff_id {
                return Err(format!(
                    "{}: corrupt tarball: layer {name} hashes to {digest}, but the config records {diff_id}",
                    path.display()
                ));
            }
            DOCKER_LAYER_TAR
        };
        layers.push(Blob {
            digest,
            size: lsize,
            media_type: media_type.into(),
            location: BlobLocation::File {
                path: PathBuf::from(path),
                offset: loff,
            },
        });
    }
    Ok(layers)
}

/// A Docker v2 schema 2 manifest over the config and layers; each blob pushed once.
fn build_plan(config_blob: Blob, layers: Vec<Blob>) -> Result<ImagePlan, String> {
    let descriptor = |b: &Blob| serde_json::json!({"mediaType": b.media_type, "size": b.size, "digest": b.digest});
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST,
        "config": descriptor(&config_blob),
        "layers": layers.iter().map(descriptor).collect::<Vec<_>>(),
    });
    let manifest_bytes = serde_json::to_vec_pretty(&manifest).map_err(|e| e.to_string())?;
    let mut blobs = vec![config_blob];
    for l in layers {
        if !blobs.iter().any(|b| b.digest == l.digest) {
            blobs.push(l);
        }
    }
    Ok(ImagePlan {
        root: ManifestDoc {
            digest: sha256_digest(&manifest_bytes),
            media_type: DOCKER_MANIFEST.into(),
            bytes: manifest_bytes,
        },
        children: Vec::new(),
        blobs,
        platforms: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `..` and `.` segments resolve the way symlinks in Docker 25+ archives need.
    #[test]
    fn normalizes_member_paths() {
        assert_eq!(normalize("./abc/layer.tar"), "abc/layer.tar");
        assert_eq!(normalize("abc/../blobs/sha256/x"), "blobs/sha256/x");
    }
}
