//! The house rules a newcomer relies on to read a crate bottom-up, checked on the source text:
//!
//! - no import cycle between the top-level modules of a crate (`use crate::x` / `crate::x::` in
//!   module `y`, outside its `#[cfg(test)]` part, is an edge y → x);
//! - no function longer than [`MAX_FN_LINES`] outside tests and the emulator's tables.
//!
//! What exists today and breaks a rule is listed below as debt: the test fails when a NEW
//! cycle or long function appears, and also when a listed one is gone, so the lists only shrink.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A function longer than this many lines of code (comments not counted) should be split into named steps (STYLE.md).
const MAX_FN_LINES: usize = 100;

/// Module cycles that exist today, per crate, each as its sorted set of modules (issue 11).
const KNOWN_CYCLES: &[(&str, &[&str])] = &[];

/// Functions over the limit today: (file relative to the workspace, function name).
const KNOWN_LONG_FNS: &[(&str, &str)] = &[];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The code of a file without comments (doc links are not imports) and without its trailing
/// `#[cfg(test)]` part (tests sit at the bottom).
fn non_test_source(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let code = match text.find("#[cfg(test)]") {
        Some(i) => &text[..i],
        None => &text[..],
    };
    code.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Top-level module a file of `src` belongs to: `x.rs` and `x/**.rs` are module `x`;
/// `lib.rs` and `main.rs` are the root (None).
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?.to_string();
    match first.as_str() {
        "lib.rs" | "main.rs" => None,
        f => Some(f.trim_end_matches(".rs").to_string()),
    }
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The crate-level names a source text refers to: `crate::x…` and `use crate::{x, y::z}`.
fn crate_refs(text: &str) -> BTreeSet<String> {
    let mut refs = BTreeSet::new();
    for (i, _) in text.match_indices("crate::") {
        if i > 0 && text[..i].ends_with(|c: char| is_ident_char(c) || c == ':') {
            continue; // `dk_core::crate::` or `$crate::`-like: not ours
        }
        let rest = &text[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // Split the group on its top-level commas; each part starts with a module name.
            let mut depth = 0usize;
            let mut part = String::new();
            let mut parts = Vec::new();
            for c in group.chars() {
                match c {
                    '}' if depth == 0 => break,
                    ',' if depth == 0 => parts.push(std::mem::take(&mut part)),
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    _ => part.push(c),
                }
            }
            parts.push(part);
            for p in parts {
                let name: String = p.trim().chars().take_while(|c| is_ident_char(*c)).collect();
                if !name.is_empty() {
                    refs.insert(name);
                }
            }
        } else {
            let name: String = rest.chars().take_while(|c| is_ident_char(*c)).collect();
            if !name.is_empty() {
                refs.insert(name);
            }
        }
    }
    refs
}

/// Strongly connected components with more than one module (Tarjan, iterative enough for us).
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct State<'a> {
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        next: usize,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on_stack.insert(v);
        let graph = s.graph;
        for w in graph.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low[v];
                s.low.insert(v, lv.min(lw));
            } else if s.on_stack.contains(w) {
                let iw = s.index[w];
                let lv = s.low[v];
                s.low.insert(v, lv.min(iw));
            }
        }
        if s.low[v] == s.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                comp.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                s.out.push(comp);
            }
        }
    }
    let mut s = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in graph.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    s.out
}

fn crates() -> Vec<(String, PathBuf)> {
    let mut out: Vec<(String, PathBuf)> = std::fs::read_dir(workspace().join("crates"))
        .expect("crates/")
        .flatten()
        .filter(|e| e.path().join("src").is_dir())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .collect();
    out.sort();
    out
}

fn module_graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let modules: BTreeSet<String> = files.iter().filter_map(|f| module_of(src, f)).collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in &files {
        let Some(from) = module_of(src, f) else {
            continue;
        };
        let edges = graph.entry(from.clone()).or_default();
        for to in crate_refs(&non_test_source(f)) {
            if to != from && modules.contains(&to) {
                edges.insert(to);
            }
        }
    }
    graph
}

fn found_cycles() -> BTreeSet<(String, Vec<String>)> {
    let mut found = BTreeSet::new();
    for (name, dir) in crates() {
        for c in cycles(&module_graph(&dir.join("src"))) {
            found.insert((name.clone(), c));
        }
    }
    found
}

/// `fn` items longer than the limit: a body ends at the first line that closes it at the
/// indentation it opened at (rustfmt's layout).
fn long_functions(text: &str) -> Vec<(String, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        let decl = trimmed
            .trim_start_matches("pub(crate) ")
            .trim_start_matches("pub ")
            .trim_start_matches("const ")
            .trim_start_matches("async ");
        let Some(after) = decl.strip_prefix("fn ") else {
            continue;
        };
        let name: String = after.chars().take_while(|c| is_ident_char(*c)).collect();
        let close = format!("{}}}", " ".repeat(indent));
        let Some(len) = lines[i + 1..].iter().position(|l| *l == close) else {
            continue;
        };
        if len + 2 > MAX_FN_LINES {
            out.push((name, len + 2));
        }
    }
    out
}

fn found_long_functions() -> BTreeMap<(String, String), usize> {
    let root = workspace().canonicalize().expect("workspace");
    let mut found = BTreeMap::new();
    for (name, dir) in crates() {
        // The emulator's tables and the test equipment are exempt (issue 11).
        if name == "ecs-emulator" || name == "test-support" {
            continue;
        }
        let mut files = Vec::new();
        rust_files(&dir.join("src"), &mut files);
        for f in files {
            let rel = f
                .canonicalize()
                .ok()
                .and_then(|p| p.strip_prefix(&root).ok().map(Path::to_path_buf))
                .unwrap_or(f.clone());
            let rel = rel.to_string_lossy().into_owned();
            for (func, len) in long_functions(&non_test_source(&f)) {
                found.insert((rel.clone(), func), len);
            }
        }
    }
    found
}

/// No crate gains an import cycle between its modules, and fixed ones leave the debt list.
#[test]
fn no_new_module_cycles() {
    let found = found_cycles();
    let known: BTreeSet<(String, Vec<String>)> = KNOWN_CYCLES
        .iter()
        .map(|(c, m)| {
            let mut m: Vec<String> = m.iter().map(|s| s.to_string()).collect();
            m.sort();
            (c.to_string(), m)
        })
        .collect();
    let new: Vec<_> = found.difference(&known).collect();
    let gone: Vec<_> = known.difference(&found).collect();
    assert!(
        new.is_empty(),
        "new import cycles between modules (move the shared types into a leaf module such as model.rs): {new:?}"
    );
    assert!(
        gone.is_empty(),
        "these cycles are gone: remove them from KNOWN_CYCLES in {}: {gone:?}",
        file!()
    );
}

/// No function outside tests grows past the limit, and split ones leave the debt list.
#[test]
fn no_new_long_functions() {
    let found = found_long_functions();
    let known: BTreeSet<(String, String)> = KNOWN_LONG_FNS
        .iter()
        .map(|(f, n)| (f.to_string(), n.to_string()))
        .collect();
    let new: Vec<_> = found.iter().filter(|(k, _)| !known.contains(*k)).collect();
    let gone: Vec<_> = known.iter().filter(|k| !found.contains_key(*k)).collect();
    assert!(
        new.is_empty(),
        "functions over {MAX_FN_LINES} lines (split them into named steps): {new:?}"
    );
    assert!(
        gone.is_empty(),
        "these functions are short now: remove them from KNOWN_LONG_FNS in {}: {gone:?}",
        file!()
    );
}

/// The checker itself: it sees grouped and nested imports, and finds a two-module cycle.
#[test]
fn the_checker_sees_imports_and_cycles() {
    let refs = crate_refs("use crate::{a, b::{C, d}, e as f};\nlet x = crate::g::h();\n");
    assert_eq!(
        refs,
        ["a", "b", "e", "g"].iter().map(|s| s.to_string()).collect()
    );
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    g.entry("a".into()).or_default().insert("b".into());
    g.entry("b".into()).or_default().insert("a".into());
    g.entry("c".into()).or_default().insert("a".into());
    assert_eq!(cycles(&g), vec![vec!["a".to_string(), "b".to_string()]]);
    let long = format!(
        "fn big() {{\n{}}}\nfn small() {{\n    x\n}}\n",
        "    x;\n".repeat(120)
    );
    assert_eq!(long_functions(&long), vec![("big".to_string(), 122)]);
}
