//! OCI image layout directories (`oci-layout`, `index.json`, `blobs/<alg>/<hex>`), what
//! `docker buildx build --output type=oci`, skopeo and most builders write. Opening a layout
//! checks everything that is cheap before any network call: the layout marker, the index, the
//! chosen image, every manifest and config against its digest and size, and every layer's size.
//! Layers are hashed while they stream to the registry instead — hashing 60 MiB up front would
//! cost more than a warm re-push takes in total.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use crate::image::{BlobLocation, ImagePlan, ManifestDoc, assemble};
use crate::manifest::{Descriptor, MAX_MANIFEST_BYTES};

/// The annotation naming an image in `index.json` (`oci:DIR:REF`).
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";

#[derive(Deserialize)]
struct LayoutMarker {
    #[serde(rename = "imageLayoutVersion")]
    image_layout_version: String,
}

#[derive(Deserialize)]
struct IndexJson {
    #[serde(default)]
    manifests: Vec<Descriptor>,
}

/// Path of a blob in the layout. A blob that is a link resolving outside the layout is refused
/// before anything reads it: otherwise any file the link names would be streamed to the registry
/// before its hash could show it is not the blob.
pub fn blob_path(dir: &Path, digest: &str) -> Result<PathBuf, String> {
    let (alg, hex) = digest
        .split_once(':')
        .ok_or_else(|| format!("`{digest}` is not a digest"))?;
    dk_core::image_ref::validate_digest(digest)?;
    let path = dir.join("blobs").join(alg).join(hex);
    if let (Ok(real), Ok(root)) = (path.canonicalize(), dir.canonicalize())
        && !real.starts_with(&root)
    {
        return Err(format!(
            "blob {digest} is a link to {}, outside the layout {}",
            real.display(),
            dir.display()
        ));
    }
    Ok(path)
}

/// Read a small blob (manifest, config) whole and check its size and digest.
pub fn read_verified(dir: &Path, d: &Descriptor, limit: u64) -> Result<Vec<u8>, String> {
    let path = blob_path(dir, &d.digest)?;
    let meta = std::fs::metadata(&path).map_err(|e| {
        format!(
            "blob {} is missing from the layout ({}): {e}",
            d.digest,
            path.display()
        )
    })?;
    if meta.len() != d.size {
        return Err(format!(
            "blob {} is {} bytes but its descriptor says {}",
            d.digest,
            meta.len(),
            d.size
        ));
    }
    if d.size > limit {
        return Err(format!(
            "blob {} is {} bytes, too large for a manifest",
            d.digest, d.size
        ));
    }
    let bytes = std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let actual = crate::manifest::sha256_digest(&bytes);
    if actual != d.digest {
        return Err(format!(
            "digest mismatch in the layout: {} hashes to {actual}",
            path.display()
        ));
    }
    Ok(bytes)
}

/// Hash a blob file in bounded chunks and compare with its descriptor.
fn hash_verified(path: &Path, d: &Descriptor) -> Result<(), String> {
    let mut f =
        std::fs::File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = f
            .read(&mut buf)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    let actual = format!("sha256:{}", hex::encode(h.finalize()));
    if actual != d.digest {
        return Err(format!(
            "digest mismatch in the layout: {} hashes to {actual}",
            path.display()
        ));
    }
    Ok(())
}

/// The descriptor in `index.json` that `reference` names (or the only one).
pub fn select_root(index: &[Descriptor], reference: Option<&str>) -> Result<Descriptor, String> {
    let names = || {
        index
            .iter()
            .map(|d| {
                d.annotations
                    .get(REF_NAME)
                    .cloned()
                    .unwrap_or_else(|| d.digest.clone())
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    match reference {
        Some(r) => index
            .iter()
            .find(|d| d.annotations.get(REF_NAME).map(String::as_str) == Some(r) || d.digest == r)
            .cloned()
            .ok_or_else(|| format!("the layout has no image named `{r}` (it has: {})", names())),
        None => match index {
            [] => Err("the layout's index.json lists no images".into()),
            [only] => Ok(only.clone()),
            _ => Err(format!(
                "the layout holds {} images; name one as oci:DIR:REF (it has: {})",
                index.len(),
                names()
            )),
        },
    }
}

/// Open a layout and build the push plan, checking everything cheap on the way.
pub fn open(
    dir: &Path,
    reference: Option<&str>,
    platforms: &[String],
) -> Result<ImagePlan, String> {
    let meta = std::fs::metadata(dir)
        .map_err(|e| format!("{}: no such directory ({e})", dir.display()))?;
    if !meta.is_dir() {
        return Err(format!(
            "{} is not a directory (for a `docker save` tarball use docker-archive:FILE)",
            dir.display()
        ));
    }
    let marker = std::fs::read(dir.join("oci-layout")).map_err(|_| {
        format!(
            "{} is not an OCI image layout: it has no `oci-layout` file",
            dir.display()
        )
    })?;
    let marker: LayoutMarker = serde_json::from_slice(&marker).map_err(|e| {
        format!(
            "{} is not an OCI image layout: bad `oci-layout` file: {e}",
            dir.display()
        )
    })?;
    if !marker.image_layout_version.starts_with("1.") {
        return Err(format!(
            "OCI layout version {} is not supported",
            marker.image_layout_version
        ));
    }
    // index.json is read whole: refuse one larger than any manifest may be.
    let index_len = std::fs::metadata(dir.join("index.json")).map_or(0, |m| m.len());
    if index_len > MAX_MANIFEST_BYTES {
        return Err(format!(
            "index.json is {index_len} bytes, more than the {MAX_MANIFEST_BYTES} a manifest may have"
        ));
    }
    let index_bytes = std::fs::read(dir.join("index.json")).map_err(|e| {
        format!(
            "{} is not an OCI image layout: cannot read index.json: {e}",
            dir.display()
        )
    })?;
    let index: IndexJson =
        serde_json::from_slice(&index_bytes).map_err(|e| format!("bad index.json: {e}"))?;
    if index.manifests.len() > crate::image::MAX_INDEX_ENTRIES {
        return Err(format!(
            "index.json lists {} images, more than {}",
            index.manifests.len(),
            crate::image::MAX_INDEX_ENTRIES
        ));
    }
    for d in &index.manifests {
        dk_core::image_ref::validate_digest(&d.digest)
            .map_err(|e| format!("bad index.json: {e}"))?;
    }
    let root_desc = select_root(&index.manifests, reference)?;
    let root_bytes = read_verified(dir, &root_desc, MAX_MANIFEST_BYTES)?;
    let root = ManifestDoc {
        digest: root_desc.digest.clone(),
        media_type: root_desc.media_type.clone(),
        bytes: root_bytes,
    };
    let mut first_blob = true;
    assemble(
        root,
        platforms,
        |d| read_verified(dir, d, MAX_MANIFEST_BYTES),
        |d| {
            let path = blob_path(dir, &d.digest)?;
            let meta = std::fs::metadata(&path).map_err(|_| {
                format!(
                    "blob {} is missing from the layout ({})",
                    d.digest,
                    path.display()
                )
            })?;
            if meta.len() != d.size {
                return Err(format!(
                    "blob {} is {} bytes but the manifest says {}",
                    d.digest,
                    meta.len(),
                    d.size
                ));
            }
            // Config blobs (the first blob of each manifest) are small: hash them now.
            let is_config = first_blob || d.media_type.contains("config");
            first_blob = false;
            if is_config && d.size <= MAX_MANIFEST_BYTES * 4 {
                hash_verified(&path, d)?;
            }
            Ok(BlobLocation::File { path, offset: 0 })
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    /// A blob linking outside the layout is refused; one linking inside it is fine.
    #[test]
    fn blob_links_must_stay_inside_the_layout() {
        let outside = tempfile::tempdir().unwrap();
        let secret = outside.path().join("credentials");
        std::fs::write(&secret, "aws_secret_access_key = x").unwrap();
        let layout = tempfile::tempdir().unwrap();
        let blobs = layout.path().join("blobs/sha256");
        std::fs::create_dir_all(&blobs).unwrap();
        let hex = DIGEST.trim_start_matches("sha256:");
        std::os::unix::fs::symlink(&secret, blobs.join(hex)).unwrap();
        let err = blob_path(layout.path(), DIGEST).unwrap_err();
        assert!(err.contains("outside the layout"), "{err}");

        std::fs::remove_file(blobs.join(hex)).unwrap();
        std::fs::write(blobs.join("shared"), "x").unwrap();
        std::os::unix::fs::symlink(blobs.join("shared"), blobs.join(hex)).unwrap();
        assert_eq!(blob_path(layout.path(), DIGEST).unwrap(), blobs.join(hex));
    }
}
