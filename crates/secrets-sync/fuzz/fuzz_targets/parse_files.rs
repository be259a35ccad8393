//! Every file secrets-sync parses, fed arbitrary bytes: nothing may panic; a parse error never
//! carries the text after `=` of the line it names (values are secrets); whatever parses as
//! dotenv renders back to the same entries; rules that parse can check anything.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
#[path = "../../src/dotenv.rs"]
mod dotenv;
#[allow(dead_code)]
#[path = "../../src/model.rs"]
mod model;
#[allow(dead_code)]
#[path = "../../src/rules.rs"]
mod rules;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match dotenv::parse(&text) {
        Ok(entries) => {
            let pairs: Vec<(&str, &str)> = entries
                .iter()
                .map(|(k, v)| (k.as_str(), v.expose().as_str()))
                .collect();
            let back = dotenv::parse(&dotenv::render(&pairs)).expect("rendered dotenv parses");
            assert_eq!(back.len(), entries.len());
            for (k, v) in &entries {
                assert_eq!(back[k].expose(), v.expose(), "round trip of {k}");
            }
            // Any parsed set can be checked against rules parsed from the same bytes.
            for toml in [false, true] {
                if let Ok(r) = rules::Rules::parse(&text, toml) {
                    let _ = r.check(&entries);
                }
            }
        }
        Err(e) => {
            // A value after `=` of at least 12 unusual characters must not appear in the error.
            if let Some(line) = text.split('\n').nth(e.line.saturating_sub(1))
                && let Some((_, value)) = line.split_once('=')
            {
                let value = value.trim();
                if value.len() >= 12 && !value.contains('`') {
                    assert!(!e.message.contains(value), "error shows the value: {e}");
                }
            }
        }
    }
    for toml in [false, true] {
        let _ = rules::Rules::parse(&text, toml);
    }
});
