//! Every user-controlled string ecs-roll parses, fed arbitrary bytes: none may panic, and the
//! rendering invariants must hold for any definition that parses (canonical form is idempotent,
//! a definition equals itself, overrides keep the container list and stay valid).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
#[path = "../../src/render/mod.rs"]
mod render;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = render::parse_image_override(&text);
    let _ = render::parse_env_override(&text);
    let _ = render::parse_secret_override(&text);
    let _ = render::split_command(&text);
    let _ = dk_core::image_ref::ImageRef::parse(&text);

    // The first line may carry overrides for the definition that follows.
    let (head, body) = text.split_once('\n').unwrap_or(("", &text));
    let Ok(doc) = render::parse_task_definition(body) else { return };
    assert!(render::validate(&doc).is_ok());
    assert!(doc.same_as(&doc));
    let canonical = doc.canonical();
    assert_eq!(render::canonical(&canonical), canonical, "canonical form is not idempotent");
    let mut overrides = render::Overrides::default();
    for word in head.split_whitespace() {
        if let Ok(i) = render::parse_image_override(word) {
            overrides.images.push(i);
        } else if let Ok(v) = render::parse_env_override(word) {
            overrides.env.push(v);
        }
    }
    let rendered = render::apply_present_overrides(&doc, &overrides);
    assert_eq!(rendered.container_names(), doc.container_names());
    assert!(render::validate(&rendered).is_ok());
    let _ = rendered.pretty();
});
