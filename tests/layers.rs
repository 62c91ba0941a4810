//! The library's modules depend on each other one way, bottom up (README, "Layout").
//!
//! Reads every file under `src/`, finds the modules it names through `crate::` and `super::`
//! paths (in `use` items and in code; comments, strings and `#[cfg(test)]` modules left out)
//! and fails if a module names one on a higher layer, or if the files of one folder import
//! each other in a loop.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The top-level modules of the library, bottom up: a module may name its own layer's
/// modules and those below, never one above.
const LAYERS: &[&[&str]] = &[
    &["rng"],
    &["latency"],
    &["order"],
    &["model"],
    &["protocols"],
    &["sweep"],
    &["engine"],
    &["store"],
    &["run", "verify", "show", "compare"],
    &["advise"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

/// `text` without comments, string and char literals, and everything from the first
/// `#[cfg(test)]` on (test modules close their files).
fn code_of(text: &str) -> String {
    let text = match text.find("#[cfg(test)]") {
        Some(at) => &text[..at],
        None => text,
    };
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        let rest = &text[i..];
        if rest.starts_with("//") {
            i += rest.find('\n').unwrap_or(rest.len());
        } else if rest.starts_with("/*") {
            i += rest.find("*/").map_or(rest.len(), |e| e + 2);
        } else if let Some(len) = raw_string_len(rest) {
            out.push_str("\"\"");
            i += len;
        } else if bytes[i] == b'"' {
            let mut j = i + 1;
            while j < bytes.len() && bytes[j] != b'"' {
                j += if bytes[j] == b'\\' { 2 } else { 1 };
            }
            out.push_str("\"\"");
            i = j + 1;
        } else if bytes[i] == b'\'' && char_literal_len(rest).is_some() {
            out.push_str("' '");
            i += char_literal_len(rest).unwrap();
        } else {
            let c = rest.chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// The length of a raw string literal (`r"..."`, `r#"..."#`) starting `s`.
fn raw_string_len(s: &str) -> Option<usize> {
    let after_r = s.strip_prefix('r')?;
    let hashes = after_r.len() - after_r.trim_start_matches('#').len();
    let body = after_r[hashes..].strip_prefix('"')?;
    let end = format!("\"{}", "#".repeat(hashes));
    Some(1 + hashes + 1 + body.find(&end)? + end.len())
}

/// The length of a char literal starting `s` (`'a'`, `'\n'`, `'\u{1F600}'`), not a lifetime.
fn char_literal_len(s: &str) -> Option<usize> {
    let mut chars = s[1..].char_indices();
    let (_, c) = chars.next()?;
    if c == '\\' {
        let close = s[2..].find('\'')?;
        return Some(close + 3);
    }
    let (at, next) = chars.next()?;
    (next == '\'').then_some(at + 2)
}

/// The module path of the file at `rel` (relative to `src/`): `order/grid.rs` is
/// `["order", "grid"]`, `order/mod.rs` is `["order"]`, `lib.rs` is `[]`.
fn module_path(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let file = parts.pop().unwrap();
    let stem = file.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" {
        parts.push(stem.to_string());
    }
    parts
}

/// Every path a `crate::`, `super::` or `self::` prefix starts in `code`, resolved against
/// the module `here`, a `{...}` group spread into its members.
fn named_paths(code: &str, here: &[String]) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    let bytes = code.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let starts_word = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
        let prefixed = ["crate::", "super::", "self::"]
            .iter()
            .find(|p| code[i..].starts_with(**p));
        match prefixed {
            Some(prefix) if starts_word && !(i >= 2 && &code[i - 2..i] == "::") => {
                let mut base: Vec<String> = match *prefix {
                    "crate::" => Vec::new(),
                    _ => here.to_vec(),
                };
                let mut j = i;
                // `super::super::` and `self::` resolve one segment at a time.
                loop {
                    if code[j..].starts_with("super::") {
                        base.pop();
                        j += "super::".len();
                    } else if code[j..].starts_with("self::") {
                        j += "self::".len();
                    } else if code[j..].starts_with("crate::") {
                        j += "crate::".len();
                    } else {
                        break;
                    }
                }
                let (paths, end) = parse_tree(code, j);
                for p in paths {
                    let mut full = base.clone();
                    full.extend(p);
                    found.push(full);
                }
                i = end.max(i + 1);
            }
            _ => i += 1,
        }
    }
    found
}

/// Parses a use tree (`a::b`, `a::{b, c::d}`) at `at`; returns its paths and where it ends.
fn parse_tree(code: &str, mut at: usize) -> (Vec<Vec<String>>, usize) {
    let bytes = code.as_bytes();
    let skip_space = |mut k: usize| {
        while k < bytes.len() && bytes[k].is_ascii_whitespace() {
            k += 1;
        }
        k
    };
    at = skip_space(at);
    if at < bytes.len() && bytes[at] == b'{' {
        let mut paths = Vec::new();
        at += 1;
        loop {
            at = skip_space(at);
            if at >= bytes.len() {
                return (paths, at);
            }
            if bytes[at] == b'}' {
                return (paths, at + 1);
            }
            if bytes[at] == b',' {
                at += 1;
                continue;
            }
            let (sub, end) = parse_tree(code, at);
            paths.extend(sub);
            if end == at {
                at += 1;
            } else {
                at = end;
            }
        }
    }
    let start = at;
    while at < bytes.len() && (bytes[at].is_ascii_alphanumeric() || bytes[at] == b'_') {
        at += 1;
    }
    if at == start {
        return (vec![Vec::new()], at);
    }
    let segment = code[start..at].to_string();
    if code[at..].starts_with("::") {
        let (subs, end) = parse_tree(code, at + 2);
        let paths = subs
            .into_iter()
            .map(|mut p| {
                p.insert(0, segment.clone());
                p
            })
            .collect();
        (paths, end)
    } else {
        (vec![vec![segment]], at)
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The files of the library and, for each, the module paths it names.
fn library() -> BTreeMap<Vec<String>, (PathBuf, Vec<Vec<String>>)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut modules = BTreeMap::new();
    for path in files {
        let rel = path.strip_prefix(&src).unwrap().to_path_buf();
        // The binary's files (`main.rs` and the command line) stand above the library.
        let here = module_path(&rel);
        if here.first().is_some_and(|m| m == "cli" || m == "main") {
            continue;
        }
        let code = code_of(&fs::read_to_string(&path).unwrap());
        modules.insert(here.clone(), (rel, named_paths(&code, &here)));
    }
    modules
}

/// The deepest module of `modules` that `path` names (a path ends in an item, or in a module).
fn target<'a>(
    modules: &'a BTreeMap<Vec<String>, (PathBuf, Vec<Vec<String>>)>,
    path: &[String],
) -> Option<&'a Vec<String>> {
    (1..=path.len())
        .rev()
        .find_map(|n| modules.get_key_value(&path[..n]).map(|(k, _)| k))
}

#[test]
fn every_module_sits_on_a_layer() {
    let modules = library();
    let tops: BTreeSet<&String> = modules.keys().filter_map(|m| m.first()).collect();
    let unplaced: Vec<&&String> = tops
        .iter()
        .filter(|m| layer_of(m.as_str()).is_none())
        .collect();
    assert!(
        unplaced.is_empty(),
        "top-level modules on no layer of tests/layers.rs: {unplaced:?}"
    );
}

#[test]
fn no_module_names_one_above_it() {
    let modules = library();
    let mut upward = Vec::new();
    for (here, (file, named)) in &modules {
        let Some(from) = here.first().and_then(|m| layer_of(m)) else {
            continue;
        };
        for path in named {
            let Some(to_module) = target(&modules, path) else {
                continue;
            };
            let Some(to) = to_module.first().and_then(|m| layer_of(m)) else {
                continue;
            };
            if to > from {
                upward.push(format!(
                    "src/{} names crate::{} (layer {to} above its layer {from})",
                    file.display(),
                    path.join("::")
                ));
            }
        }
    }
    upward.sort();
    upward.dedup();
    assert!(
        upward.is_empty(),
        "imports that point up:\n{}",
        upward.join("\n")
    );
}

#[test]
fn no_import_circle_between_files() {
    let modules = library();
    // Edges between files, leaving out a folder's `mod.rs` (which declares and re-exports
    // its children: the folder itself, checked by the layers above).
    let mut edges: BTreeMap<&Vec<String>, BTreeSet<&Vec<String>>> = BTreeMap::new();
    for (here, (file, named)) in &modules {
        if file.ends_with("mod.rs") || file == Path::new("lib.rs") {
            continue;
        }
        for path in named {
            if let Some(to) = target(&modules, path) {
                let (to_file, _) = &modules[to];
                if to != here && !to_file.ends_with("mod.rs") && to_file != Path::new("lib.rs") {
                    edges.entry(here).or_default().insert(to);
                }
            }
        }
    }
    // Tarjan's strongly connected components, iteratively small enough to recurse.
    struct State<'a> {
        edges: &'a BTreeMap<&'a Vec<String>, BTreeSet<&'a Vec<String>>>,
        index: BTreeMap<&'a Vec<String>, (usize, usize)>,
        stack: Vec<&'a Vec<String>>,
        on_stack: BTreeSet<&'a Vec<String>>,
        circles: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a Vec<String>) {
        let n = s.index.len();
        s.index.insert(v, (n, n));
        s.stack.push(v);
        s.on_stack.insert(v);
        for &w in s.edges.get(v).into_iter().flatten() {
            if !s.index.contains_key(w) {
                visit(s, w);
                let low = s.index[w].1.min(s.index[v].1);
                s.index.get_mut(v).unwrap().1 = low;
            } else if s.on_stack.contains(w) {
                let low = s.index[w].0.min(s.index[v].1);
                s.index.get_mut(v).unwrap().1 = low;
            }
        }
        if s.index[v].0 == s.index[v].1 {
            let mut circle = Vec::new();
            loop {
                let w = s.stack.pop().unwrap();
                s.on_stack.remove(w);
                circle.push(w.join("::"));
                if w == v {
                    break;
                }
            }
            if circle.len() > 1 {
                circle.sort();
                s.circles.push(circle);
            }
        }
    }
    let mut state = State {
        edges: &edges,
        index: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        circles: Vec::new(),
    };
    for v in modules.keys() {
        if !state.index.contains_key(v) {
            visit(&mut state, v);
        }
    }
    assert!(
        state.circles.is_empty(),
        "files that import each other in a loop: {:?}",
        state.circles
    );
}

#[test]
fn the_reader_finds_paths_in_groups_and_skips_comments() {
    let code = code_of(
        "use crate::{a::B, c::{d::E, f}};\n// crate::zz::Y\nlet s = \"crate::q\";\n\
         fn g() { super::h::I::new() }\n#[cfg(test)]\nmod tests { use crate::t::U; }\n",
    );
    let here = vec!["m".to_string(), "n".to_string()];
    let found: Vec<String> = named_paths(&code, &here)
        .into_iter()
        .map(|p| p.join("::"))
        .collect();
    assert_eq!(found, ["a::B", "c::d::E", "c::f", "m::h::I::new"]);
}
