//! Image manifests and indexes (OCI v1 and Docker v2 schema 2), parsed from bytes into plain
//! types. Everything `ecr-push` pushes is described here: which blobs a manifest needs, which
//! child manifests an index lists, and their platforms. Pure and panic-free on any input, so it
//! can be fuzzed (`ecr_push::manifest::parse`).
//!
//! Manifests are pushed as the exact bytes we were given — never re-serialised — because the
//! digest is the sha256 of those bytes and must match what the source recorded.

use serde::Deserialize;
use sha2::{Digest as _, Sha256};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const DOCKER_LAYER_TAR: &str = "application/vnd.docker.image.rootfs.diff.tar";
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/// Every manifest media type we can push, for `Accept` headers.
pub const ACCEPT_ALL: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json";

/// Manifests larger than this are refused (the distribution spec lets registries cap at 4 MiB).
pub const MAX_MANIFEST_BYTES: u64 = 4 * 1024 * 1024;

/// `sha256:<hex>` of some bytes.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// A content descriptor: what a manifest says about one blob or child manifest.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Descriptor {
    #[serde(rename = "mediaType", default)]
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    #[serde(default)]
    pub platform: Option<Platform>,
    #[serde(default)]
    pub urls: Vec<String>,
    #[serde(default)]
    pub annotations: std::collections::BTreeMap<String, String>,
}

impl Descriptor {
    /// Foreign (non-distributable) layers live elsewhere and are never pushed.
    pub fn is_foreign(&self) -> bool {
        self.media_type.contains("foreign") || self.media_type.contains("nondistributable")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    #[serde(default)]
    pub variant: Option<String>,
}

impl Platform {
    /// `os/arch[/variant]`.
    pub fn to_spec(&self) -> String {
        match &self.variant {
            Some(v) => format!("{}/{}/{v}", self.os, self.architecture),
            None => format!("{}/{}", self.os, self.architecture),
        }
    }

    /// Whether `os/arch[/variant]` selects this platform (no variant in the filter matches any).
    pub fn matches(&self, spec: &str) -> bool {
        let mut parts = spec.split('/');
        let (os, arch, variant) = (parts.next(), parts.next(), parts.next());
        os == Some(self.os.as_str())
            && arch == Some(self.architecture.as_str())
            && variant.is_none_or(|v| self.variant.as_deref() == Some(v))
    }
}

/// A single-platform image manifest: one config blob and its layers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageManifest {
    pub media_type: String,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
}

impl ImageManifest {
    /// The blobs a registry must hold before this manifest can go up: config first, then the
    /// distributable layers.
    pub fn blobs(&self) -> impl Iterator<Item = &Descriptor> {
        std::iter::once(&self.config).chain(self.layers.iter().filter(|l| !l.is_foreign()))
    }
}

/// A multi-platform image index (manifest list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageIndex {
    pub media_type: String,
    pub manifests: Vec<Descriptor>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    Manifest(ImageManifest),
    Index(ImageIndex),
}

impl Parsed {
    pub fn media_type(&self) -> &str {
        match self {
            Parsed::Manifest(m) => &m.media_type,
            Parsed::Index(i) => &i.media_type,
        }
    }
}

#[derive(Deserialize)]
struct Raw {
    #[serde(rename = "schemaVersion")]
    schema_version: Option<u32>,
    #[serde(rename = "mediaType")]
    media_type: Option<String>,
    config: Option<Descriptor>,
    layers: Option<Vec<Descriptor>>,
    manifests: Option<Vec<Descriptor>>,
}

/// Parse manifest or index bytes. `hint` is the media type the bytes came with (a descriptor's
/// or a `Content-Type`), used when the document has no `mediaType` of its own.
pub fn parse_with_hint(bytes: &[u8], hint: Option<&str>) -> Result<Parsed, String> {
    if bytes.len() as u64 > MAX_MANIFEST_BYTES {
        return Err(format!(
            "the manifest is {} bytes, more than the 4 MiB registries accept",
            bytes.len()
        ));
    }
    let raw: Raw = serde_json::from_slice(bytes).map_err(|e| format!("not a manifest: {e}"))?;
    if raw.schema_version != Some(2) {
        return Err(match raw.schema_version {
            Some(v) => {
                format!("schemaVersion {v} is not supported (only 2: OCI and Docker v2 schema 2)")
            }
            None => "not a manifest: no schemaVersion".into(),
        });
    }
    let media_type = raw.media_type.or_else(|| hint.map(str::to_string));
    let is_index = match media_type.as_deref() {
        Some(OCI_INDEX | DOCKER_MANIFEST_LIST) => true,
        Some(OCI_MANIFEST | DOCKER_MANIFEST) => false,
        Some(other) if !other.is_empty() => {
            return Err(format!(
                "media type `{other}` is not an image manifest or index"
            ));
        }
        _ => raw.manifests.is_some(),
    };
    if is_index {
        let manifests = raw.manifests.ok_or("an image index without `manifests`")?;
        for d in &manifests {
            check_descriptor(d)?;
        }
        Ok(Parsed::Index(ImageIndex {
            media_type: media_type
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| OCI_INDEX.into()),
            manifests,
        }))
    } else {
        let config = raw.config.ok_or("an image manifest without `config`")?;
        let layers = raw.layers.ok_or("an image manifest without `layers`")?;
        check_descriptor(&config)?;
        for d in &layers {
            check_descriptor(d)?;
        }
        Ok(Parsed::Manifest(ImageManifest {
            media_type: media_type
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| OCI_MANIFEST.into()),
            config,
            layers,
        }))
    }
}

/// Parse manifest or index bytes that carry their own `mediaType` (or can be told apart).
#[cfg_attr(not(test), allow(dead_code))] // the fuzz target's entry point (fuzz/)
pub fn parse(bytes: &[u8]) -> Result<Parsed, String> {
    parse_with_hint(bytes, None)
}

fn check_descriptor(d: &Descriptor) -> Result<(), String> {
    dk_core::image_ref::validate_digest(&d.digest)?;
    if !d.digest.starts_with("sha256:") {
        return Err(format!("digest `{}`: only sha256 is supported", d.digest));
    }
    Ok(())
}

/// Keep only the index entries matching one of `platforms`, as new index bytes (the digest
/// changes, which is the point: it is a different, smaller image).
pub fn filter_index(bytes: &[u8], platforms: &[String]) -> Result<Vec<u8>, String> {
    let mut doc: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    let list = doc
        .get_mut("manifests")
        .and_then(|m| m.as_array_mut())
        .ok_or("an image index without `manifests`")?;
    list.retain(|entry| {
        serde_json::from_value::<Descriptor>(entry.clone())
            .ok()
            .and_then(|d| d.platform)
            .is_some_and(|p| platforms.iter().any(|s| p.matches(s)))
    });
    serde_json::to_vec(&doc).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const D1: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    const D2: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

    fn manifest_json() -> String {
        format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{D1}","size":10}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{D2}","size":20}}]}}"#
        )
    }

    /// An OCI manifest yields its config and layers as blobs, config first.
    #[test]
    fn parses_manifest_blobs() {
        let Parsed::Manifest(m) = parse(manifest_json().as_bytes()).unwrap() else {
            panic!("not a manifest")
        };
        let digests: Vec<_> = m.blobs().map(|d| d.digest.as_str()).collect();
        assert_eq!(digests, [D1, D2]);
    }

    /// An index without a mediaType is recognised by its `manifests` list; platforms filter.
    #[test]
    fn parses_index_and_filters_platforms() {
        let idx = format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"{OCI_MANIFEST}","digest":"{D1}","size":1,"platform":{{"os":"linux","architecture":"amd64"}}}},{{"mediaType":"{OCI_MANIFEST}","digest":"{D2}","size":1,"platform":{{"os":"linux","architecture":"arm64","variant":"v8"}}}}]}}"#
        );
        let Parsed::Index(i) = parse(idx.as_bytes()).unwrap() else {
            panic!("not an index")
        };
        assert_eq!(i.manifests.len(), 2);
        assert!(
            i.manifests[1]
                .platform
                .as_ref()
                .unwrap()
                .matches("linux/arm64")
        );
        assert!(
            i.manifests[1]
                .platform
                .as_ref()
                .unwrap()
                .matches("linux/arm64/v8")
        );
        assert!(
            !i.manifests[1]
                .platform
                .as_ref()
                .unwrap()
                .matches("linux/arm64/v7")
        );
        let filtered = filter_index(idx.as_bytes(), &["linux/amd64".into()]).unwrap();
        let Parsed::Index(f) = parse(&filtered).unwrap() else {
            panic!()
        };
        assert_eq!(f.manifests.len(), 1);
        assert_eq!(f.manifests[0].digest, D1);
    }

    /// Garbage, schema 1, bad digests and unknown media types are errors, never panics.
    #[test]
    fn rejects_bad_documents() {
        assert!(parse(b"").is_err());
        assert!(parse(b"{").is_err());
        assert!(
            parse(br#"{"schemaVersion":1}"#)
                .unwrap_err()
                .contains("schemaVersion 1")
        );
        assert!(parse(br#"{"schemaVersion":2,"mediaType":"text/plain"}"#).is_err());
        let bad = manifest_json().replace(D2, "sha256:abc");
        assert!(parse(bad.as_bytes()).is_err());
    }

    /// Fuzz smoke: thousands of seeded mutations of a valid manifest and of an index never panic
    /// the parser (the cargo-fuzz target runs the same entry point for longer).
    #[test]
    fn mutations_never_panic() {
        let mut rng = fastrand::Rng::with_seed(7);
        let seeds = [
            manifest_json().into_bytes(),
            br#"{"schemaVersion":2,"manifests":[]}"#.to_vec(),
        ];
        for _ in 0..20_000 {
            let mut b = seeds[rng.usize(..seeds.len())].clone();
            for _ in 0..rng.usize(1..6) {
                match rng.u8(..3) {
                    0 if !b.is_empty() => {
                        let i = rng.usize(..b.len());
                        b[i] = rng.u8(..);
                    }
                    1 if !b.is_empty() => {
                        let i = rng.usize(..b.len());
                        b.truncate(i);
                    }
                    _ => {
                        let i = rng.usize(..=b.len());
                        b.insert(i, b"{}[]:,\"0"[rng.usize(..8)]);
                    }
                }
            }
            let _ = parse(&b);
            let _ = filter_index(&b, &["linux/amd64".into()]);
        }
    }
}
