//! Every parser that sees untrusted input, fed the same bytes: none may panic.
#![no_main]

#[path = "../../src/challenge.rs"]
#[allow(dead_code)]
mod challenge;
#[path = "../../src/manifest.rs"]
#[allow(dead_code)]
mod manifest;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(manifest::Parsed::Index(index)) = manifest::parse(data) {
        for d in &index.manifests {
            if let Some(p) = &d.platform {
                let _ = p.matches(&p.to_spec());
            }
        }
    }
    let _ = manifest::parse_with_hint(data, Some(manifest::DOCKER_MANIFEST_LIST));
    let _ = manifest::filter_index(data, &["linux/amd64".to_string(), "linux/arm64/v8".to_string()]);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = dk_core::image_ref::ImageRef::parse(text);
        let _ = challenge::parse_challenge(text);
    }
});
