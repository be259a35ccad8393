//! The spec parser fed arbitrary bytes: it never panics, every error names a position inside
//! the input, and every accepted spec keeps its invariants (unique names, a readiness check
//! only where allowed, references defined before use).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
#[path = "../../src/model.rs"]
mod model;
#[allow(dead_code)]
#[path = "../../src/spec.rs"]
mod spec;
#[allow(dead_code)]
#[path = "../../src/template.rs"]
mod template;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let env = |n: &str| n == "HOME";
    let known = spec::Known {
        vars: ["user".to_string()].into(),
        env: &env,
    };
    match spec::parse(&text, "fuzz.yml", &known) {
        Ok(s) => {
            let mut names: Vec<&str> = s.checks.iter().map(|c| c.name.as_str()).collect();
            names.sort();
            names.dedup();
            assert_eq!(
                names.len(),
                s.checks.len(),
                "duplicate check names accepted"
            );
            for c in &s.checks {
                assert!(!(c.ready == Some(true) && c.load.is_some()));
            }
        }
        Err(e) => {
            if let Some(line) = e.line {
                // YAML (1.1, as libyaml reads it) breaks lines on \r\n, a lone \r, \n, and
                // NEL, LS and PS.
                let yaml_lines = text
                    .replace("\r\n", "\n")
                    .split(['\r', '\n', '\u{85}', '\u{2028}', '\u{2029}'])
                    .count();
                assert!(line >= 1 && line <= yaml_lines.max(1) + 1, "{e}");
            }
        }
    }
    for piece in text.split('\n') {
        let _ = template::parse(piece);
    }
});
