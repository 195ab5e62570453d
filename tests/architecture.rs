//! The shape of `src/`, checked on every test run: module files import each
//! other in one direction only (no circle, and nothing below the top floor
//! imports `app.rs`), no file grows past 600 lines, and a `mod.rs` only
//! declares and re-exports. docs/architecture.md draws the floors.

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::{Path, PathBuf},
};

const MAX_LINES: usize = 600;

/// Files that may import `app`: the top floor and what starts it.
const ABOVE_APP: &[&str] = &["src/main.rs", "src/lib.rs", "src/cli.rs"];

struct Module {
    /// `["events", "service"]` for src/events/service.rs; `[]` for lib.rs.
    path: Vec<String>,
    file: String,
    text: String,
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("src/ is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn modules() -> Vec<Module> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    files.sort();
    files
        .into_iter()
        .map(|file| {
            let rel = file.strip_prefix(root).expect("under the root");
            let mut path: Vec<String> = rel
                .strip_prefix("src")
                .expect("under src")
                .with_extension("")
                .iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect();
            if path.last().is_some_and(|p| p == "mod") {
                path.pop();
            }
            if path == ["lib"] || path == ["main"] {
                path.clear();
            }
            Module {
                path,
                file: rel.to_string_lossy().replace('\\', "/"),
                text: fs::read_to_string(&file).expect("a readable source file"),
            }
        })
        .collect()
}

/// The text without comments, so a doc comment naming a module is no import.
fn code_of(text: &str) -> String {
    text.lines()
        .map(|line| line.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Expands `a::{b, c::{d, self}}` into `a::b`, `a::c::d`, `a::c`.
fn expand(tree: &str) -> Vec<String> {
    let tree = tree.trim();
    let Some(open) = tree.find('{') else {
        return vec![tree.to_owned()];
    };
    let prefix = tree[..open].trim().trim_end_matches("::");
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let (mut items, mut current, mut depth) = (Vec::new(), String::new(), 0);
    for c in inner.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    items.push(current);
    items
        .iter()
        .filter(|i| !i.trim().is_empty())
        .flat_map(|i| expand(i))
        .map(|p| match (prefix.is_empty(), p.as_str()) {
            (_, "self") => prefix.to_owned(),
            (true, _) => p,
            (false, _) => format!("{prefix}::{p}"),
        })
        .collect()
}

/// Every `crate::…`/`super::…` path a module names, in `use` items or inline.
fn paths_named(code: &str) -> Vec<String> {
    let mut paths = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("use ") {
        let before = rest[..at].chars().last();
        rest = &rest[at + 4..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let Some(end) = rest.find(';') else { break };
        let tree: String = rest[..end].split_whitespace().collect();
        if tree.starts_with("crate::") || tree.starts_with("super::") {
            paths.extend(expand(&tree));
        }
    }
    let bytes = code.as_bytes();
    for start in ["crate::", "super::"] {
        let mut from = 0;
        while let Some(at) = code[from..].find(start) {
            let at = from + at;
            from = at + start.len();
            if at > 0
                && (bytes[at - 1].is_ascii_alphanumeric()
                    || bytes[at - 1] == b'_'
                    || bytes[at - 1] == b':')
            {
                continue;
            }
            let end = code[at..]
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .map_or(code.len(), |e| at + e);
            paths.push(code[at..end].trim_end_matches(':').to_owned());
        }
    }
    paths
}

/// The module files each module imports.
fn graph(modules: &[Module]) -> BTreeMap<String, BTreeSet<String>> {
    let by_path: BTreeMap<&[String], &str> = modules
        .iter()
        .map(|m| (m.path.as_slice(), m.file.as_str()))
        .collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for module in modules {
        let is_dir_module = module.file.ends_with("mod.rs") || module.path.is_empty();
        for named in paths_named(&code_of(&module.text)) {
            let mut parts: Vec<String> = named.split("::").map(str::to_owned).collect();
            let mut base: Vec<String> = Vec::new();
            if parts[0] == "crate" {
                parts.remove(0);
            } else {
                base = module.path.clone();
                if !is_dir_module {
                    base.pop();
                }
                while parts.first().is_some_and(|p| p == "super") {
                    parts.remove(0);
                    if parts.first().is_some_and(|p| p == "super") {
                        base.pop();
                    }
                }
            }
            base.extend(parts);
            let target = (1..=base.len())
                .rev()
                .find_map(|k| by_path.get(&base[..k]).copied());
            if let Some(target) = target
                && target != module.file
            {
                edges
                    .entry(module.file.clone())
                    .or_default()
                    .insert(target.to_owned());
            }
        }
    }
    edges
}

/// Groups of files that reach each other (Tarjan's strongly connected
/// components), keeping only those of more than one file.
fn circles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct Walk<'a> {
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        found: Vec<Vec<String>>,
    }
    impl<'a> Walk<'a> {
        fn visit(&mut self, v: &'a str) {
            let n = self.index.len();
            self.index.insert(v, n);
            self.low.insert(v, n);
            self.stack.push(v);
            self.on_stack.insert(v);
            for w in self.edges.get(v).into_iter().flatten() {
                let w = w.as_str();
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let low = self.low[v].min(self.low[w]);
                    self.low.insert(v, low);
                } else if self.on_stack.contains(w) {
                    let low = self.low[v].min(self.index[w]);
                    self.low.insert(v, low);
                }
            }
            if self.low[v] == self.index[v] {
                let mut group = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on_stack.remove(w);
                    group.push(w.to_owned());
                    if w == v {
                        break;
                    }
                }
                if group.len() > 1 {
                    group.sort();
                    self.found.push(group);
                }
            }
        }
    }
    let mut walk = Walk {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for v in edges.keys() {
        if !walk.index.contains_key(v.as_str()) {
            walk.visit(v);
        }
    }
    walk.found
}

#[test]
fn modules_import_each_other_in_one_direction() {
    let edges = graph(&modules());
    let found = circles(&edges);
    assert!(
        found.is_empty(),
        "modules that import each other in a circle (a type lives on the wrong floor): {found:#?}"
    );
}

#[test]
fn nothing_below_the_top_floor_imports_app() {
    let edges = graph(&modules());
    let upward: Vec<&String> = edges
        .iter()
        .filter(|(file, targets)| {
            targets.contains("src/app.rs") && !ABOVE_APP.contains(&file.as_str())
        })
        .map(|(file, _)| file)
        .collect();
    assert!(
        upward.is_empty(),
        "these import app.rs; take what they need from state.rs instead: {upward:?}"
    );
}

#[test]
fn no_file_is_over_600_lines() {
    let long: Vec<(String, usize)> = modules()
        .into_iter()
        .map(|m| (m.file, m.text.lines().count()))
        .filter(|(_, n)| *n > MAX_LINES)
        .collect();
    assert!(long.is_empty(), "split these by topic: {long:?}");
}

#[test]
fn mod_files_only_declare_and_re_export() {
    for module in modules().iter().filter(|m| m.file.ends_with("mod.rs")) {
        for line in code_of(&module.text).lines() {
            let line = line.trim();
            let allowed = line.is_empty()
                || line.starts_with("pub mod ")
                || line.starts_with("mod ")
                || line.starts_with("pub use ")
                || line.starts_with("#[");
            assert!(
                allowed,
                "{}: `{line}` belongs in a file of its own",
                module.file
            );
        }
    }
}

#[test]
fn the_checker_sees_a_circle() {
    let modules = vec![
        Module {
            path: vec!["a".into()],
            file: "src/a.rs".into(),
            text: "use crate::b::{self, Thing};".into(),
        },
        Module {
            path: vec!["b".into()],
            file: "src/b.rs".into(),
            text: "fn f() { crate::a::g(); }".into(),
        },
        Module {
            path: vec!["c".into()],
            file: "src/c.rs".into(),
            text: "// use crate::a;\nuse crate::b::Thing;".into(),
        },
    ];
    let edges = graph(&modules);
    assert_eq!(
        circles(&edges),
        vec![vec!["src/a.rs".to_owned(), "src/b.rs".to_owned()]]
    );
    assert!(!edges.contains_key("src/c.rs") || !edges["src/c.rs"].contains("src/a.rs"));
}
