//! The plugin's modules import no cycle (issue #24): a module may use its descendants (a
//! parent declares its children), but no chain of `crate::…` and `super::…` references
//! between modules comes back to where it started.
//!
//! Read as text, not compiled: each file of `src/` is a module (`lib.rs` the crate, `a/mod.rs`
//! `a`, `a/b.rs` `a::b`); comments, literals and `#[cfg(test)] mod … { … }` blocks are left
//! out, and a path names the longest module it starts with (`crate::a::b::Item` is `a::b`
//! when `a/b.rs` exists, else `a`). A module reached through a name it imported
//! (`use crate::a; a::b::f()`) counts as the one imported: a cycle through `a::b` made only
//! that way goes unseen (the plugin names its modules in full).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// A module path: `[]` is the crate, `["a", "b"]` is `a::b`.
type Module = Vec<String>;

/// Which modules each module refers to (its descendants and itself left out).
type Graph = BTreeMap<Module, BTreeSet<Module>>;

#[test]
fn the_plugins_modules_import_no_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let files = read_modules(&src);
    assert!(
        files.len() > 10 && files.iter().any(|(m, _)| m.is_empty()),
        "src/ read as {} modules, lib.rs among them",
        files.len()
    );
    let graph = graph(&files);
    assert!(
        graph.values().any(|refs| !refs.is_empty()),
        "no reference between modules found: the parser reads nothing"
    );
    let cycles = cycles(&graph);
    assert!(
        cycles.is_empty(),
        "import cycles between the plugin's modules:\n{}",
        cycles.join("\n")
    );
}

// The parser and the cycle search, on small samples.

fn sample(files: &[(&str, &str)]) -> Vec<(Module, String)> {
    files
        .iter()
        .map(|(m, text)| (module(m), (*text).to_owned()))
        .collect()
}

fn module(name: &str) -> Module {
    if name == "crate" {
        Vec::new()
    } else {
        name.split("::").map(str::to_owned).collect()
    }
}

fn refs_of(graph: &Graph, m: &str) -> Vec<String> {
    graph[&module(m)].iter().map(display).collect()
}

#[test]
fn two_modules_using_each_other_are_a_cycle_shown_as_its_path() {
    let g = graph(&sample(&[
        ("crate", "pub mod a; pub mod b;"),
        ("a", "use crate::b::Thing;"),
        ("b", "pub fn f() { crate::a::g() }"),
    ]));
    assert_eq!(cycles(&g), ["a -> b -> a"]);
}

#[test]
fn a_longer_cycle_is_shown_whole() {
    let g = graph(&sample(&[
        ("crate", ""),
        ("a", "use crate::b::X;"),
        ("b", "use crate::c::Y;"),
        ("c", "use crate::a::Z;"),
    ]));
    assert_eq!(cycles(&g), ["a -> b -> c -> a"]);
}

#[test]
fn a_parent_using_its_children_and_them_using_it_is_no_cycle() {
    let g = graph(&sample(&[
        (
            "crate",
            "pub mod a; pub use a::b::Thing; fn f() { crate::a::b::g() }",
        ),
        (
            "a",
            "pub mod b; use self::b::Thing; use crate::a::b::Other;",
        ),
        ("a::b", "use super::Shared; use crate::Root;"),
    ]));
    assert_eq!(refs_of(&g, "crate"), Vec::<String>::new());
    assert_eq!(refs_of(&g, "a"), Vec::<String>::new());
    assert_eq!(refs_of(&g, "a::b"), ["crate", "a"]);
    assert!(cycles(&g).is_empty());
}

#[test]
fn a_use_group_names_each_module_it_lists_nested_groups_too() {
    let g = graph(&sample(&[
        ("crate", ""),
        ("a", ""),
        ("a::b", ""),
        ("a::c", ""),
        ("a::c::d", ""),
        ("e", ""),
        (
            "x",
            "use crate::a::{self, b::Item as Renamed, c::{d::*, Other}};\nuse crate::{e};",
        ),
    ]));
    assert_eq!(refs_of(&g, "x"), ["a", "a::b", "a::c", "a::c::d", "e"]);
}

#[test]
fn a_path_names_the_longest_module_it_starts_with() {
    let g = graph(&sample(&[
        ("crate", ""),
        ("a", ""),
        ("a::b", ""),
        (
            "x",
            "fn f() { crate::a::b::Item::new(); crate::a::helper(); crate::run() }",
        ),
    ]));
    assert_eq!(refs_of(&g, "x"), ["crate", "a", "a::b"]);
}

#[test]
fn super_climbs_one_module_a_step_and_an_inline_module_is_one_step() {
    let g = graph(&sample(&[
        ("crate", ""),
        ("a", ""),
        ("a::b", ""),
        ("a::b::c", "use super::super::b::X; use super::super::Y;"),
        ("k", ""),
        ("p", ""),
        (
            "p::q",
            "pub mod inner { use super::super::Z; } use super::super::k::W;",
        ),
    ]));
    assert_eq!(refs_of(&g, "a::b::c"), ["a", "a::b"]);
    assert_eq!(refs_of(&g, "p::q"), ["k", "p"]);
}

#[test]
fn tests_comments_and_literals_are_not_references() {
    let g = graph(&sample(&[
        ("crate", ""),
        ("a", ""),
        ("b", ""),
        (
            "x",
            r##"
            //! See [`crate::a`].
            /* crate::a::X /* nested */ crate::a */
            const S: &str = "crate::a::X \" crate::a";
            const R: &str = r#"crate::a "quoted" "#;
            const C: char = '"'; const Q: char = '\''; fn l<'a>(s: &'a str) -> &'a str { s }
            #[cfg(test)]
            mod tests {
                use crate::a::X;
                fn inner() { { crate::a::y(); } }
            }
            use crate::b::Y;
            "##,
        ),
    ]));
    assert_eq!(refs_of(&g, "x"), ["b"]);
}

#[test]
fn a_file_is_the_module_its_path_says() {
    assert_eq!(module_of(Path::new("lib.rs")), Some(module("crate")));
    assert_eq!(module_of(Path::new("main.rs")), None);
    assert_eq!(module_of(Path::new("a/mod.rs")), Some(module("a")));
    assert_eq!(module_of(Path::new("a/b.rs")), Some(module("a::b")));
    assert_eq!(module_of(Path::new("a/b/mod.rs")), Some(module("a::b")));
}

// Reading src/.

/// Every `.rs` file under `src` with its module path.
fn read_modules(src: &Path) -> Vec<(Module, String)> {
    fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let p = e.expect("directory entry").path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let mut paths = Vec::new();
    walk(src, &mut paths);
    paths.sort();
    paths
        .iter()
        .filter_map(|p| {
            let m = module_of(p.strip_prefix(src).expect("under src"))?;
            let text =
                std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            Some((m, text))
        })
        .collect()
}

/// A file's module, from its path under `src/`; `main.rs` is the binary, another crate.
fn module_of(rel: &Path) -> Option<Module> {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|s| s.to_string_lossy().into_owned())
        .collect();
    let file = parts.pop()?;
    let stem = file.strip_suffix(".rs")?;
    match (parts.is_empty(), stem) {
        (true, "lib") => {}
        (true, "main") => return None,
        (_, "mod") => {}
        _ => parts.push(stem.to_owned()),
    }
    Some(parts)
}

fn display(m: &Module) -> String {
    if m.is_empty() {
        "crate".to_owned()
    } else {
        m.join("::")
    }
}

// The graph.

fn graph(files: &[(Module, String)]) -> Graph {
    let modules: BTreeSet<Module> = files.iter().map(|(m, _)| m.clone()).collect();
    files
        .iter()
        .map(|(m, text)| {
            let refs = references(m, &tokens(text))
                .into_iter()
                .map(|path| longest_module(&modules, &path))
                .filter(|target| !target.starts_with(m))
                .collect();
            (m.clone(), refs)
        })
        .collect()
}

/// The longest prefix of `path` that is a module (the crate at the least).
fn longest_module(modules: &BTreeSet<Module>, path: &[String]) -> Module {
    (0..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|p| modules.contains(p))
        .unwrap_or_default()
}

/// Each cycle once, as `a -> b -> a`: a depth-first search that reports the way back each
/// time an edge reaches a module still on its stack.
fn cycles(graph: &Graph) -> Vec<String> {
    fn visit<'g>(
        m: &'g Module,
        graph: &'g Graph,
        stack: &mut Vec<&'g Module>,
        done: &mut BTreeSet<&'g Module>,
        found: &mut Vec<String>,
    ) {
        stack.push(m);
        for next in graph.get(m).into_iter().flatten() {
            if let Some(at) = stack.iter().position(|s| *s == next) {
                let path: Vec<String> = stack[at..]
                    .iter()
                    .chain([&next])
                    .map(|m| display(m))
                    .collect();
                found.push(path.join(" -> "));
            } else if !done.contains(next) {
                visit(next, graph, stack, done, found);
            }
        }
        stack.pop();
        done.insert(m);
    }
    let mut done = BTreeSet::new();
    let mut found = Vec::new();
    for m in graph.keys() {
        if !done.contains(m) {
            visit(m, graph, &mut Vec::new(), &mut done, &mut found);
        }
    }
    found
}

// The parser.

/// Identifiers and punctuation (`::` one token) of Rust source, without comments, string and
/// char literals, lifetimes, and `#[cfg(test)] mod … { … }` blocks.
fn tokens(text: &str) -> Vec<String> {
    let c: Vec<char> = text.chars().collect();
    let ident = |ch: char| ch.is_alphanumeric() || ch == '_';
    let at = |k: usize| c.get(k).copied();
    let mut out = Vec::new();
    let mut i = 0;
    while i < c.len() {
        match c[i] {
            ch if ch.is_whitespace() => i += 1,
            '/' if at(i + 1) == Some('/') => {
                while i < c.len() && c[i] != '\n' {
                    i += 1;
                }
            }
            '/' if at(i + 1) == Some('*') => {
                // Block comments nest.
                let mut depth = 0;
                while i < c.len() {
                    if c[i] == '/' && at(i + 1) == Some('*') {
                        depth += 1;
                        i += 2;
                    } else if c[i] == '*' && at(i + 1) == Some('/') {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
            }
            '"' => i = skip_string(&c, i + 1, None),
            '\'' => {
                // A char literal ('x', '\n', '\'') or a lifetime ('a), which has no closing quote.
                if at(i + 1) == Some('\\') {
                    i += 3;
                    while i < c.len() && c[i] != '\'' {
                        i += 1;
                    }
                    i += 1;
                } else if at(i + 2) == Some('\'') {
                    i += 3;
                } else {
                    i += 1;
                    while i < c.len() && ident(c[i]) {
                        i += 1;
                    }
                }
            }
            ch if ident(ch) => {
                let start = i;
                while i < c.len() && ident(c[i]) {
                    i += 1;
                }
                let word: String = c[start..i].iter().collect();
                // r"…", r#"…"#, br"…": raw strings; r#name: a raw identifier.
                if matches!(word.as_str(), "r" | "br") && matches!(c.get(i), Some('"' | '#')) {
                    let hashes = c[i..].iter().take_while(|&&h| h == '#').count();
                    if c.get(i + hashes) == Some(&'"') {
                        i = skip_string(&c, i + hashes + 1, Some(hashes));
                        continue;
                    }
                    i += hashes;
                    continue;
                }
                out.push(word);
            }
            ':' if at(i + 1) == Some(':') => {
                out.push("::".to_owned());
                i += 2;
            }
            // `$crate::` in a macro is this crate too.
            '$' => i += 1,
            ch => {
                out.push(ch.to_string());
                i += 1;
            }
        }
    }
    strip_test_modules(out)
}

/// The index after a string whose opening quote is before `i`: a plain one (`raw` None) ends
/// at an unescaped `"`, a raw one at `"` and its number of `#`.
fn skip_string(c: &[char], mut i: usize, raw: Option<usize>) -> usize {
    while i < c.len() {
        match (c[i], raw) {
            ('\\', None) => i += 2,
            ('"', None) => return i + 1,
            ('"', Some(hashes))
                if c[i + 1..].iter().take_while(|&&h| h == '#').count() >= hashes =>
            {
                return i + 1 + hashes;
            }
            _ => i += 1,
        }
    }
    i
}

/// Without `#[cfg(test)] [pub…] mod name { … }`.
fn strip_test_modules(t: Vec<String>) -> Vec<String> {
    const ATTR: [&str; 7] = ["#", "[", "cfg", "(", "test", ")", "]"];
    let mut out = Vec::with_capacity(t.len());
    let mut i = 0;
    while i < t.len() {
        if t[i..].starts_with(&ATTR.map(String::from)) {
            let mut j = i + ATTR.len();
            if t.get(j).is_some_and(|w| w == "pub") {
                j += 1;
                if t.get(j).is_some_and(|w| w == "(") {
                    j += t[j..].iter().position(|w| w == ")").map_or(0, |p| p + 1);
                }
            }
            if t.get(j).is_some_and(|w| w == "mod") && t.get(j + 2).is_some_and(|w| w == "{") {
                i = after_block(&t, j + 2);
                continue;
            }
        }
        out.push(t[i].clone());
        i += 1;
    }
    out
}

/// The index after the block whose `{` is at `open`.
fn after_block(t: &[String], open: usize) -> usize {
    let mut depth = 0;
    for (k, w) in t.iter().enumerate().skip(open) {
        match w.as_str() {
            "{" => depth += 1,
            "}" => {
                depth -= 1;
                if depth == 0 {
                    return k + 1;
                }
            }
            _ => {}
        }
    }
    t.len()
}

/// The absolute paths (from the crate) of every `crate::…`, `super::…` and `self::…` path in
/// module `m`, a use group giving one path an entry. `super` inside an inline `mod x { … }`
/// climbs from `m::x`.
fn references(m: &Module, t: &[String]) -> Vec<Module> {
    let mut out = Vec::new();
    // The inline modules we are in, with the brace depth each opened at.
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0;
    let mut i = 0;
    while i < t.len() {
        match t[i].as_str() {
            "{" => depth += 1,
            "}" => {
                depth -= 1;
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
            }
            "mod" if t.get(i + 2).is_some_and(|w| w == "{") => {
                inline.push((t[i + 1].clone(), depth));
            }
            start @ ("crate" | "super" | "self")
                if t.get(i + 1).is_some_and(|w| w == "::") && (i == 0 || t[i - 1] != "::") =>
            {
                let mut here: Module = m.clone();
                here.extend(inline.iter().map(|(name, _)| name.clone()));
                let mut base = match start {
                    "crate" => Vec::new(),
                    _ => here,
                };
                let mut j = i;
                // `super::super::…`: one module up each.
                if start != "crate" {
                    while t.get(j).is_some_and(|w| w == "super" || w == "self")
                        && t.get(j + 1).is_some_and(|w| w == "::")
                    {
                        if t[j] == "super" {
                            base.pop();
                        }
                        j += 2;
                    }
                } else {
                    j += 2;
                }
                i = path_tree(t, j, base, &mut out);
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// Reads the rest of a path from `i` (`a::b`, `a::{b, c::{d}}`, `a::*`, `a as b`) below
/// `prefix`, adds each full path to `out`, and returns where it ends.
fn path_tree(t: &[String], mut i: usize, mut prefix: Module, out: &mut Vec<Module>) -> usize {
    loop {
        match t.get(i).map(String::as_str) {
            Some("{") => {
                i += 1;
                while t.get(i).is_some_and(|w| w != "}") {
                    if t[i] == "," {
                        i += 1;
                    } else {
                        let next = path_tree(t, i, prefix.clone(), out);
                        // Past what the item ends with (`as name`, `*`) up to `,` or `}`.
                        i = next.max(i + 1);
                        while t.get(i).is_some_and(|w| w != "," && w != "}") {
                            i += 1;
                        }
                    }
                }
                return i + 1;
            }
            Some(w) if w.starts_with(|c: char| c.is_alphanumeric() || c == '_') => {
                if w != "self" {
                    prefix.push(w.to_owned());
                }
                i += 1;
                if t.get(i).is_some_and(|w| w == "::") {
                    i += 1;
                } else {
                    out.push(prefix);
                    return i;
                }
            }
            _ => {
                out.push(prefix);
                return i;
            }
        }
    }
}
