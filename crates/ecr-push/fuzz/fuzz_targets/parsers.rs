//! Every parser that sees untrusted input, fed the same bytes: none may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = ecr_push::manifest::parse(data);
    let _ = ecr_push::manifest::filter_index(data, &["linux/amd64".to_string()]);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = dk_core::image_ref::ImageRef::parse(text);
        let _ = ecr_push::auth::parse_challenge(text);
        let _ = ecr_push::repository::validate_repository_name(text);
        if !text.contains('\0') {
            let _ = ecr_push::source::parse(text);
        }
    }
});
