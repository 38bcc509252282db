//! The server crate's dependency rule, checked on its source text.
//!
//! Every `.rs` file under `src/` is read; what it refers to inside the crate
//! is resolved to the deepest module file that exists, and the resulting file
//! graph is held to the table below. References are `use` trees and inline
//! paths (`crate::a::f()`, `super::b::C`, `x::f()` after `use crate::x;`).
//! This reads text, not the compiler's view, so it is rough on purpose:
//! comments and literals are skipped; `#[cfg(test)]` items and test-only
//! files are ignored (a test may reach anything); `mod x;` is no import; and
//! re-exports are not followed, so `crate::state::X` through an alias in
//! `lib.rs` is a use of `lib.rs`.
//!
//! | a file in                             | may refer to                                      |
//! |---------------------------------------|---------------------------------------------------|
//! | assembly: any file directly in `src/` | anything                                          |
//! | a feature's edge (api/pages)          | its own feature's files, other features' service files, federation, http, web, app |
//! | a feature's service                   | any feature's service files, federation, app; never the crates axum/askama |
//! | `federation/`                         | federation, http, app                             |
//! | `web/`                                | web, http, app                                    |
//! | `http/`                               | http, app                                         |
//! | `app/`                                | app; never the crates axum/askama                 |
//!
//! So nothing but assembly refers to assembly. A feature is any other folder
//! directly under `src/`; in it, a file is an edge when it is named `api.rs`
//! or `pages.rs`, starts with `api_` or `pages_`, or lies under a folder `api/`
//! or `pages/`; any other file (`mod.rs` included) is service. `x.rs` beside a
//! folder `x/` is that folder's root module. On top of the table, no cycles:
//! neither between files nor between top-level folders.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;
use std::{fmt, fs, io};

/// One breach of the rule; its `Display` names the files involved.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Violation {
    /// `from -> to` (a file or the crate `axum`/`askama`); why, and the line.
    Forbidden { edge: String, why: String },
    /// A loop `a -> b -> a` of files, and other files in the same tangle.
    Cycle { path: String, tangled: String },
    /// A loop `x -> y -> x` of top-level folders, and one file edge per hop.
    FolderCycle { path: String, hops: String },
    /// The tree could not be read, so nothing was checked.
    Unreadable { path: String, error: String },
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::Forbidden { edge, why } => write!(f, "forbidden edge: {edge} ({why})"),
            Violation::Cycle { path, tangled } if tangled.is_empty() => write!(f, "cycle: {path}"),
            Violation::Cycle { path, tangled } => {
                write!(f, "cycle: {path} (tangled with it: {tangled})")
            }
            Violation::FolderCycle { path, hops } => {
                write!(f, "cycle between folders: {path} ({hops})")
            }
            Violation::Unreadable { path, error } => write!(f, "cannot read {path}: {error}"),
        }
    }
}

/// Checks the crate whose sources are in `src_dir` (the folder of `lib.rs`).
pub(crate) fn check(src_dir: &Path) -> Vec<Violation> {
    match Crate::read(src_dir) {
        Ok(krate) => krate.violations(),
        Err(error) => {
            let (path, error) = (src_dir.display().to_string(), error.to_string());
            vec![Violation::Unreadable { path, error }]
        }
    }
}

/// Where a file sits in the layering.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Layer {
    Assembly,
    App,
    Http,
    Web,
    Federation,
    Service(String),
    Edge(String),
}

impl Layer {
    /// The layer of `rel` (`/`-separated, under `src/`); `top_dirs` are the
    /// folders directly under `src/` that hold Rust files.
    fn of(rel: &str, top_dirs: &BTreeSet<String>) -> Layer {
        let parts: Vec<&str> = rel.split('/').collect();
        let (folder, inner): (&str, &[&str]) = match parts.as_slice() {
            // `requests.rs` beside `requests/` is that folder's root module.
            [file] => match file.strip_suffix(".rs") {
                Some(stem) if top_dirs.contains(stem) => (stem, &["mod.rs"]),
                _ => return Layer::Assembly,
            },
            [folder, inner @ ..] => (folder, inner),
            [] => return Layer::Assembly,
        };
        let feature = match folder {
            "app" => return Layer::App,
            "http" => return Layer::Http,
            "web" => return Layer::Web,
            "federation" => return Layer::Federation,
            feature => feature.to_owned(),
        };
        let (file, dirs) = inner.split_last().unwrap_or((&"mod.rs", &[]));
        let stem = file.trim_end_matches(".rs");
        let edge_dir = |d: &&str| *d == "api" || *d == "pages";
        if dirs.iter().any(edge_dir)
            || edge_dir(&stem)
            || stem.starts_with("api_")
            || stem.starts_with("pages_")
        {
            Layer::Edge(feature)
        } else {
            Layer::Service(feature)
        }
    }

    /// The top-level folder, for the folder-cycle check (assembly has none).
    fn folder(&self) -> Option<&str> {
        match self {
            Layer::Assembly => None,
            Layer::App => Some("app"),
            Layer::Http => Some("http"),
            Layer::Web => Some("web"),
            Layer::Federation => Some("federation"),
            Layer::Service(f) | Layer::Edge(f) => Some(f),
        }
    }

    /// Why `self` may not refer to `to`, or `None` when it may: the table.
    fn forbids(&self, to: &Layer) -> Option<&'static str> {
        use Layer::*;
        match (self, to) {
            (Assembly, _) => None,
            (_, Assembly) => Some("nothing but assembly may use assembly"),
            (Edge(f), Edge(g)) if f != g => {
                Some("api/pages may not use another feature's api/pages")
            }
            (Edge(_), _) => None,
            (Service(_), Service(_) | Federation | App) => None,
            (Service(_), Http) => Some("a service may not use http"),
            (Service(_), Web) => Some("a service may not use web"),
            (Service(_), Edge(_)) => Some("a service may not use api/pages"),
            (Federation, Federation | Http | App) => None,
            (Federation, Web) => Some("federation may not use web"),
            (Federation, _) => Some("federation knows no feature"),
            (Web, Web | Http | App) => None,
            (Web, _) => Some("web may use only web, http and app"),
            (Http, Http | App) => None,
            (Http, _) => Some("http may use only http and app"),
            (App, App) => None,
            (App, _) => Some("app may use only app"),
        }
    }

    /// Why `self` may not mention the web crates `axum` and `askama`.
    fn forbids_web_crates(&self) -> Option<&'static str> {
        match self {
            Layer::Service(_) => Some("a service may not use"),
            Layer::App => Some("app may not use"),
            _ => None,
        }
    }
}

/// The crate as read from disk.
struct Crate {
    /// Module path → file, for every `.rs` file, so that paths resolve.
    modules: BTreeMap<Vec<String>, String>,
    /// The files under the rule (test-only files left out), with their layer
    /// and their tokens (test-only items left out).
    files: BTreeMap<String, (Layer, Vec<Token>)>,
}

impl Crate {
    fn read(src_dir: &Path) -> io::Result<Crate> {
        let mut rels = Vec::new();
        rust_files(src_dir, "", &mut rels)?;
        rels.retain(|rel| rel != "layering.rs"); // this checker
        let (mut top_dirs, mut modules) = (BTreeSet::new(), BTreeMap::new());
        for rel in &rels {
            top_dirs.extend(rel.split_once('/').map(|(dir, _)| dir.to_owned()));
            modules.insert(module_path(rel), rel.clone());
        }
        let (mut files, mut test_only) = (BTreeMap::new(), Vec::new());
        for rel in &rels {
            let module = module_path(rel);
            match drop_test_items(tokenize(&fs::read_to_string(src_dir.join(rel))?)) {
                None => test_only.push(module),
                Some((tokens, test_mods)) => {
                    test_only.extend(test_mods.into_iter().map(|m| [&module[..], &[m]].concat()));
                    files.insert(rel.clone(), (Layer::of(rel, &top_dirs), tokens));
                }
            }
        }
        // `#[cfg(test)] mod tests;` makes that file, and all below it, test-only.
        files.retain(|rel, _| !test_only.iter().any(|t| module_path(rel).starts_with(t)));
        Ok(Crate { modules, files })
    }

    /// The file a path written in `module` lands in: the deepest module file
    /// on it. `None` when the path leaves the crate.
    fn resolve(&self, module: &[String], path: &[String], aliases: &Aliases) -> Option<&String> {
        let first = path.first()?.as_str();
        let child = self.modules.contains_key(&[module, &path[..1]].concat());
        if !child && !matches!(first, "crate" | "self" | "super") {
            // Not a module here: a name brought in by `use`, or another crate
            // (`std`, `axum`, `entraide_domain`, `::x`, a type's `Foo::new`).
            let alias = aliases.get(first)?;
            return self.resolve(module, &[alias, &path[1..]].concat(), &Aliases::new());
        }
        let mut base = module.to_vec();
        for segment in path {
            match segment.as_str() {
                "crate" => base.clear(),
                "super" => {
                    base.pop()?;
                }
                "self" => {}
                name => base.push(name.to_owned()),
            }
        }
        (0..=base.len())
            .rev()
            .find_map(|n| self.modules.get(&base[..n]))
    }

    fn violations(&self) -> Vec<Violation> {
        let mut found = Vec::new();
        let forbidden = |from: &str, to: &str, why: &str, line: usize| {
            let (edge, why) = (format!("{from} -> {to}"), format!("{why}; line {line}"));
            Violation::Forbidden { edge, why }
        };
        // Every file edge once, with the line where it first appears.
        let mut edges: BTreeMap<(&str, &str), usize> = BTreeMap::new();
        let mut crates_seen = BTreeSet::new();
        for (from, (layer, tokens)) in &self.files {
            let module = module_path(from);
            let (references, aliases) = references(tokens);
            for (reference, line) in references {
                match reference {
                    Ref::Path(path) => {
                        let to = self.resolve(&module, &path, &aliases);
                        if let Some(to) =
                            to.filter(|to| *to != from && self.files.contains_key(*to))
                        {
                            edges.entry((from, to)).or_insert(line);
                        }
                    }
                    Ref::Crate(krate) => match layer.forbids_web_crates() {
                        Some(why) if crates_seen.insert((from, krate.clone())) => {
                            found.push(forbidden(from, &krate, &format!("{why} {krate}"), line));
                        }
                        _ => {}
                    },
                }
            }
        }
        let (mut file_graph, mut folder_graph) = (Graph::new(), Graph::new());
        let mut witness = BTreeMap::new(); // a file edge behind each folder edge
        for (&(from, to), &line) in &edges {
            let (Some((from_layer, _)), Some((to_layer, _))) =
                (self.files.get(from), self.files.get(to))
            else {
                continue;
            };
            if let Some(why) = from_layer.forbids(to_layer) {
                found.push(forbidden(from, to, why, line));
            }
            file_graph.entry(from).or_default().insert(to);
            match (from_layer.folder(), to_layer.folder()) {
                (Some(a), Some(b)) if a != b => {
                    folder_graph.entry(a).or_default().insert(b);
                    witness.entry((a, b)).or_insert(format!("{from} -> {to}"));
                }
                _ => {}
            }
        }
        for (path, tangled) in cycles(&file_graph) {
            let (path, tangled) = (path.join(" -> "), tangled.join(", "));
            found.push(Violation::Cycle { path, tangled });
        }
        for (folders, _) in cycles(&folder_graph) {
            let hop = |w: &[&str]| witness.get(&(w[0], w[1])).cloned();
            let path = folders.join(" -> ");
            let hops = folders
                .windows(2)
                .filter_map(hop)
                .collect::<Vec<_>>()
                .join("; ");
            found.push(Violation::FolderCycle { path, hops });
        }
        found.sort();
        found
    }
}

/// Collects the `.rs` files under `dir` as sorted `/`-separated paths.
fn rust_files(dir: &Path, prefix: &str, out: &mut Vec<String>) -> io::Result<()> {
    let mut entries = fs::read_dir(dir)?.collect::<Result<Vec<_>, _>>()?;
    entries.sort_by_key(|entry| entry.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = format!("{prefix}{name}");
        if entry.file_type()?.is_dir() {
            rust_files(&entry.path(), &format!("{path}/"), out)?;
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
    Ok(())
}

/// `requests/service.rs` → `[requests, service]`, `a/mod.rs` → `[a]`, `lib.rs` → `[]`.
fn module_path(rel: &str) -> Vec<String> {
    let mut path: Vec<String> = rel
        .trim_end_matches(".rs")
        .split('/')
        .map(str::to_owned)
        .collect();
    if matches!(path.as_slice(), [root] if root == "lib" || root == "main") {
        path.clear();
    } else if path.last().is_some_and(|last| last == "mod") {
        path.pop();
    }
    path
}

/// A word or punctuation of code (`::` is one token), with its line.
#[derive(Debug, Clone)]
struct Token {
    text: String,
    line: usize,
}

/// Splits code into tokens, leaving out comments and string/char literals,
/// so that neither a doc comment nor a message mentioning `crate::x` counts.
fn tokenize(src: &str) -> Vec<Token> {
    let chars: Vec<char> = src.chars().collect();
    let ident_char = |c: &char| c.is_alphanumeric() || *c == '_';
    let (mut tokens, mut line, mut i) = (Vec::new(), 1, 0);
    while let Some(c) = chars.get(i) {
        let after_ident = i > 0 && chars.get(i - 1).is_some_and(ident_char);
        let len = match literal_len(&chars[i..], after_ident) {
            0 if ident_char(c) => chars[i..].iter().take_while(|c| ident_char(c)).count(),
            0 if chars[i..].starts_with(&[':', ':']) => 2,
            0 => 1,
            skipped => {
                line += chars[i..]
                    .iter()
                    .take(skipped)
                    .filter(|c| **c == '\n')
                    .count();
                i += skipped;
                continue;
            }
        };
        if !c.is_whitespace() {
            tokens.push(Token {
                text: chars[i..i + len].iter().collect(),
                line,
            });
        }
        line += usize::from(*c == '\n');
        i += len;
    }
    tokens
}

/// Length of the comment or literal starting at `c[0]`, or 0 if none does.
fn literal_len(c: &[char], after_ident: bool) -> usize {
    match c {
        ['/', '/', ..] => c.iter().position(|&x| x == '\n').unwrap_or(c.len()),
        ['/', '*', ..] => {
            let (mut depth, mut j) = (0usize, 0);
            while let (Some(&a), Some(&b)) = (c.get(j), c.get(j + 1)) {
                match (a, b) {
                    ('/', '*') => (depth, j) = (depth + 1, j + 2),
                    ('*', '/') if depth <= 1 => return j + 2,
                    ('*', '/') => (depth, j) = (depth - 1, j + 2),
                    _ => j += 1,
                }
            }
            c.len()
        }
        ['"', ..] => quoted(c),
        ['b', '"' | '\'', ..] if !after_ident => 1 + quoted(&c[1..]),
        ['r', '"' | '#', ..] | ['b', 'r', '"' | '#', ..] if !after_ident => raw_len(c),
        ['\'', '\\', ..] => quoted(c),
        ['\'', _, '\'', ..] => 3,
        _ => 0, // lifetimes such as `'a` included
    }
}

/// Length of a `"…"` or `'…'` literal with escapes; `c[0]` is the quote.
fn quoted(c: &[char]) -> usize {
    let mut j = 1;
    while let Some(&x) = c.get(j) {
        match x {
            '\\' => j += 2,
            x if Some(&x) == c.first() => return j + 1,
            _ => j += 1,
        }
    }
    c.len()
}

/// Length of a raw string `r#"…"#` or `br"…"`, or 0 for a raw identifier `r#x`.
fn raw_len(c: &[char]) -> usize {
    let start = if c.first() == Some(&'b') { 2 } else { 1 };
    let hashes = c.iter().skip(start).take_while(|&&x| x == '#').count();
    if c.get(start + hashes) != Some(&'"') {
        return 0;
    }
    let closes =
        |j: &usize| c.get(*j) == Some(&'"') && (1..=hashes).all(|k| c.get(j + k) == Some(&'#'));
    (start + hashes + 1..c.len())
        .find(closes)
        .map_or(c.len(), |j| j + 1 + hashes)
}

/// The text of token `i`, or "" past either end (`i` may have wrapped).
fn text(tokens: &[Token], i: usize) -> &str {
    tokens.get(i).map_or("", |t| t.text.as_str())
}

fn is_ident(word: &str) -> bool {
    word.chars()
        .next()
        .is_some_and(|c| c.is_alphanumeric() || c == '_')
}

/// Removes every `#[cfg(test)]` item. Returns the other tokens and the names
/// of test-only `mod name;` files, or `None` for a `#![cfg(test)]` file.
fn drop_test_items(tokens: Vec<Token>) -> Option<(Vec<Token>, Vec<String>)> {
    const CFG_TEST: [&str; 6] = ["[", "cfg", "(", "test", ")", "]"];
    let at = |i: usize, words: &[&str]| {
        words
            .iter()
            .enumerate()
            .all(|(k, w)| text(&tokens, i + k) == *w)
    };
    let (mut kept, mut test_mods, mut i) = (Vec::new(), Vec::new(), 0);
    while let Some(token) = tokens.get(i) {
        if at(i, &["#", "!"]) && at(i + 2, &CFG_TEST) {
            return None;
        }
        if !(at(i, &["#"]) && at(i + 1, &CFG_TEST)) {
            kept.push(token.clone());
            i += 1;
            continue;
        }
        // Skip the item: through its `{…}` block or up to its `;`, whichever
        // comes first outside parentheses and brackets.
        let mut depth = 0usize;
        i += 1 + CFG_TEST.len();
        while let Some(token) = tokens.get(i) {
            match token.text.as_str() {
                "(" | "[" => depth += 1,
                ")" | "]" => depth = depth.saturating_sub(1),
                ";" if depth == 0 => break,
                "{" if depth == 0 => {
                    i = closing_brace(&tokens, i);
                    break;
                }
                "mod" if is_ident(text(&tokens, i + 1)) && text(&tokens, i + 2) == ";" => {
                    test_mods.push(text(&tokens, i + 1).to_owned());
                }
                _ => {}
            }
            i += 1;
        }
        i += 1;
    }
    Some((kept, test_mods))
}

/// The index of the `}` matching the `{` at `open` (or the end).
fn closing_brace(tokens: &[Token], open: usize) -> usize {
    let mut depth = 0usize;
    for (i, token) in tokens.iter().enumerate().skip(open) {
        match token.text.as_str() {
            "{" => depth += 1,
            "}" if depth <= 1 => return i,
            "}" => depth -= 1,
            _ => {}
        }
    }
    tokens.len()
}

/// What a file refers to: a module path as written, or a web crate.
enum Ref {
    Path(Vec<String>),
    Crate(String),
}

fn is_web_crate(word: &str) -> bool {
    word == "axum" || word == "askama"
}

/// Names a file brings into scope with `use`, and the paths they stand for.
type Aliases = BTreeMap<String, Vec<String>>;

/// Every reference in a file, with its line: `use` trees, inline paths
/// (`crate::a::f()`, `super::b::C`, or through a name brought in by `use`),
/// and uses of `axum`/`askama` (paths, `#[derive(Template)]`,
/// `#[template(…)]`); and the file's `use` names.
fn references(tokens: &[Token]) -> (Vec<(Ref, usize)>, Aliases) {
    let (mut out, mut aliases, mut i) = (Vec::new(), Aliases::new(), 0);
    while let Some(token) = tokens.get(i) {
        let (word, line) = (token.text.as_str(), token.line);
        let before = |k: usize| text(tokens, i.wrapping_sub(k));
        // `a::b` is a path start, but `b` in it is not (nor is `x.a::<T>()`).
        let path_starts = is_ident(word)
            && text(tokens, i + 1) == "::"
            && !(before(1) == "::" && is_ident(before(2)))
            && before(1) != ".";
        let in_attribute = before(1) == "[" && before(2) == "#";
        match word {
            "use" => {
                let mut paths = Vec::new();
                i += 1;
                use_tree(tokens, &mut i, Vec::new(), &mut paths);
                for (path, alias) in paths {
                    match path.iter().find(|s| *s != "::").filter(|s| is_web_crate(s)) {
                        Some(krate) => out.push((Ref::Crate(krate.clone()), line)),
                        None => {
                            aliases.insert(alias, path.clone());
                            out.push((Ref::Path(path), line));
                        }
                    }
                }
                continue;
            }
            w if path_starts && is_web_crate(w) => out.push((Ref::Crate(w.to_owned()), line)),
            _ if path_starts => {
                let mut path = vec![word.to_owned()];
                while text(tokens, i + 1) == "::" && is_ident(text(tokens, i + 2)) {
                    path.push(text(tokens, i + 2).to_owned());
                    i += 2;
                }
                out.push((Ref::Path(path), line));
            }
            "template" if in_attribute => out.push((Ref::Crate("askama".into()), line)),
            "derive" if in_attribute => {
                let mut derived = tokens[i..].iter().take_while(|t| t.text != "]");
                if derived.any(|t| t.text == "Template") {
                    out.push((Ref::Crate("askama".into()), line));
                }
            }
            _ => {}
        }
        i += 1;
    }
    aliases.remove("");
    (out, aliases)
}

/// Expands the use tree at `pos` into whole paths, each with the name it
/// brings into scope: `crate::{a::b, c::{self, d as e}}` gives `crate::a::b`
/// (`b`), `crate::c::self` (`c`) and `crate::c::d` (`e`). A glob keeps the path
/// before it and brings no name; a leading `::` stays as a `"::"` segment.
fn use_tree(
    tokens: &[Token],
    pos: &mut usize,
    mut path: Vec<String>,
    out: &mut Vec<(Vec<String>, String)>,
) {
    loop {
        let word = text(tokens, *pos);
        *pos += 1;
        match word {
            "::" if path.is_empty() => path.push("::".into()),
            "::" => {}
            "*" => return out.push((path, String::new())),
            "{" => loop {
                match text(tokens, *pos) {
                    "" => return,
                    "}" => return *pos += 1,
                    "," => *pos += 1,
                    _ => {
                        let before = *pos;
                        use_tree(tokens, pos, path.clone(), out);
                        *pos += usize::from(*pos == before); // not a tree: step over
                    }
                }
            },
            w if is_ident(w) => {
                path.push(w.to_owned());
                if text(tokens, *pos) != "::" {
                    let named = path.iter().rev().find(|s| *s != "self").cloned();
                    let mut alias = named.unwrap_or_default();
                    if text(tokens, *pos) == "as" {
                        alias = text(tokens, *pos + 1).to_owned();
                        *pos += 2;
                    }
                    return out.push((path, alias));
                }
            }
            _ => return *pos -= 1, // not part of the tree
        }
    }
}

type Graph<'a> = BTreeMap<&'a str, BTreeSet<&'a str>>;

/// One entry per tangle (strongly connected part) of the graph: the shortest
/// cycle through its first node, and its other nodes, not on that cycle.
fn cycles<'a>(graph: &Graph<'a>) -> Vec<(Vec<&'a str>, Vec<&'a str>)> {
    let reach: Graph = graph
        .keys()
        .map(|&node| (node, reachable(graph, node)))
        .collect();
    let reaches = |a: &str, b: &str| reach.get(a).is_some_and(|r| r.contains(b));
    let (mut seen, mut out) = (BTreeSet::<&str>::new(), Vec::new());
    for &node in graph.keys() {
        if !seen.contains(node) && reaches(node, node) {
            let path = shortest_cycle(graph, node);
            let tangle = graph
                .keys()
                .filter(|m| reaches(node, m) && reaches(m, node));
            seen.extend(tangle.clone());
            let tangled = tangle.filter(|m| !path.contains(m)).copied().collect();
            out.push((path, tangled));
        }
    }
    out
}

/// The nodes reachable from `start` through at least one edge.
fn reachable<'a>(graph: &Graph<'a>, start: &'a str) -> BTreeSet<&'a str> {
    let (mut seen, mut queue) = (BTreeSet::new(), VecDeque::from([start]));
    while let Some(node) = queue.pop_front() {
        for &next in graph.get(node).into_iter().flatten() {
            if seen.insert(next) {
                queue.push_back(next);
            }
        }
    }
    seen
}

/// The shortest cycle `start -> … -> start` (breadth first), or nothing.
/// The graphs here have no edge from a node to itself.
fn shortest_cycle<'a>(graph: &Graph<'a>, start: &'a str) -> Vec<&'a str> {
    let (mut parent, mut queue) = (BTreeMap::new(), VecDeque::from([start]));
    while let Some(node) = queue.pop_front() {
        for &next in graph.get(node).into_iter().flatten() {
            if next == start {
                let mut cycle = vec![start, node, start];
                while let Some(&before) = parent.get(cycle[1]).filter(|b| **b != start) {
                    cycle.insert(1, before);
                }
                return cycle;
            }
            if !parent.contains_key(next) {
                parent.insert(next, node);
                queue.push_back(next);
            }
        }
    }
    Vec::new()
}

#[test]
fn the_server_keeps_its_dependency_rule() {
    let violations = check(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    let listing: Vec<String> = violations.iter().map(ToString::to_string).collect();
    assert!(
        violations.is_empty(),
        "{} breach(es) of the dependency rule (see ARCHITECTURE.md, src/layering.rs):\n{}",
        violations.len(),
        listing.join("\n")
    );
}

/// Tests of the checker itself, on small trees written to a temporary folder.
mod fixtures {
    use super::check;
    use std::fmt;
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::{env, fs, process};

    /// A miniature of the target shape that keeps the rule; `== path` starts
    /// a file. It also holds the traps: comments, strings, a `'{'`, a derive.
    const CLEAN: &str = r#"
== lib.rs
pub mod app; pub mod http; pub mod web; pub mod federation;
pub mod requests; pub mod evidence; pub mod routes;
#[cfg(test)] mod layering;
== routes.rs
use crate::requests::pages;
use crate::evidence::{api_upload, service};
pub fn router() { crate::http::caller::guard(); }
== app/mod.rs
pub mod state;
== app/state.rs
pub struct AppState;
== http/mod.rs
pub mod caller;
== http/caller.rs
use crate::app::state::AppState;
use axum::extract::FromRequestParts;
pub fn guard() {}
== web/mod.rs
pub mod forms;
use crate::http::caller;
pub fn render() {}
== web/forms.rs
use super::render;
pub struct Form;
== federation/mod.rs
pub mod outbox;
== federation/outbox.rs
use crate::{app::state::AppState, http::caller::guard};
pub fn enqueue() {}
== requests/mod.rs
pub mod pages;
pub mod service;
pub use service::Request;
== requests/service.rs
//! Talks of crate::http::caller in a comment, which does not count.
use crate::app::state::AppState;
use crate::evidence::service::Evidence;
use entraide_domain::request;
pub struct Request;
pub fn send() {
    let _ = "crate::web::render()";
    crate::federation::outbox::enqueue();
}
== requests/pages.rs
use askama::Template;
use axum::extract::State;
use super::service::Request;
use crate::web::{forms::Form, render};
use crate::http::caller::guard;
#[derive(Debug, Template)]
#[template(path = "r.html")]
pub struct Page;
== evidence/mod.rs
pub mod api_upload;
pub mod service;
== evidence/service.rs
use crate::app::state::AppState;
/* a block comment: crate::web::render() */
pub struct Evidence;
fn brace() -> char { '{' }
== evidence/api_upload.rs
use crate::evidence::service::Evidence;
use crate::http::caller::guard;
"#;

    /// `(path, text)` for each `== path` section of `spec`.
    fn files(spec: &str) -> Vec<(&str, String)> {
        let mut files: Vec<(&str, String)> = Vec::new();
        for line in spec.lines() {
            match (line.strip_prefix("== "), files.last_mut()) {
                (Some(path), _) => files.push((path, String::new())),
                (None, Some((_, text))) => text.extend([line, "\n"]),
                (None, None) => {}
            }
        }
        files
    }

    /// A tree in a fresh temporary folder, removed when dropped.
    struct Tree(PathBuf);

    impl Drop for Tree {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    /// What a fixture found instead of what was wanted, shown as is.
    struct Mismatch(String);

    impl fmt::Debug for Mismatch {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(&self.0)
        }
    }

    /// Checks the clean tree with `changes` (files replaced or added): it
    /// must break the rule exactly once per `wanted` text, each breach
    /// containing its text. `Err` says what was found instead.
    fn expect(changes: &str, wanted: &[&str]) -> Result<(), Mismatch> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let tree = Tree(env::temp_dir().join(format!("entraide-layering-{}-{n}", process::id())));
        let _ = fs::remove_dir_all(&tree.0);
        let changes = files(changes);
        let unchanged = files(CLEAN)
            .into_iter()
            .filter(|(p, _)| !changes.iter().any(|(q, _)| p == q));
        for (path, text) in unchanged.collect::<Vec<_>>().into_iter().chain(changes) {
            let file = tree.0.join(path);
            let written =
                fs::create_dir_all(file.parent().unwrap_or(&tree.0)).and(fs::write(file, text));
            written.map_err(|e| Mismatch(e.to_string()))?;
        }
        let found: Vec<String> = check(&tree.0).iter().map(ToString::to_string).collect();
        let each_found = wanted.iter().all(|w| found.iter().any(|f| f.contains(w)));
        match each_found && found.len() == wanted.len() {
            true => Ok(()),
            false => Err(Mismatch(format!("wanted {wanted:#?}\nfound {found:#?}"))),
        }
    }

    #[test]
    fn a_clean_tree_passes() {
        expect("", &[]).unwrap();
    }

    #[test]
    fn a_service_may_not_use_http() {
        let change = "== requests/service.rs\nuse crate::http::caller::Caller;";
        let wanted = "forbidden edge: requests/service.rs -> http/caller.rs (a service may not use http; line 1)";
        expect(change, &[wanted]).unwrap();
    }

    #[test]
    fn a_service_may_not_use_axum_or_askama() {
        let change =
            "== evidence/service.rs\nuse axum::extract::State;\n#[derive(Template)]\nstruct Page;";
        let wanted = [
            "evidence/service.rs -> axum (a service may not use axum; line 1)",
            "evidence/service.rs -> askama (a service may not use askama; line 2)",
        ];
        expect(change, &wanted).unwrap();
    }

    #[test]
    fn federation_knows_no_feature() {
        let change = "== federation/outbox.rs\nuse crate::evidence::service::Evidence;";
        let wanted =
            "federation/outbox.rs -> evidence/service.rs (federation knows no feature; line 1)";
        expect(change, &[wanted]).unwrap();
    }

    #[test]
    fn a_cycle_between_two_features_services_names_both_files() {
        let change = "== evidence/service.rs\nuse crate::requests::service::Request;";
        let wanted = [
            "cycle: evidence/service.rs -> requests/service.rs -> evidence/service.rs",
            "cycle between folders: evidence -> requests -> evidence",
        ];
        expect(change, &wanted).unwrap();
    }

    #[test]
    fn a_cycle_between_folders_is_caught_without_a_file_cycle() {
        let change = "== evidence/api_upload.rs\nuse crate::requests::Request;";
        let wanted = "cycle between folders: evidence -> requests -> evidence \
            (evidence/api_upload.rs -> requests/mod.rs; requests/service.rs -> evidence/service.rs)";
        expect(change, &[wanted]).unwrap();
    }

    #[test]
    fn super_resolves_from_the_files_module() {
        let change =
            "== requests/service.rs\nuse super::pages::Page;\nuse super::super::web::forms;";
        let wanted = [
            "requests/service.rs -> requests/pages.rs (a service may not use api/pages; line 1)",
            "requests/service.rs -> web/forms.rs (a service may not use web; line 2)",
            // pages.rs's own `use super::service::Request` closes a loop.
            "cycle: requests/pages.rs -> requests/service.rs -> requests/pages.rs",
        ];
        expect(change, &wanted).unwrap();
    }

    #[test]
    fn a_grouped_use_gives_every_edge() {
        let change = "== requests/service.rs
use crate::{http::caller::Caller, web::{forms::{self, Form}, render as r}};";
        let wanted = [
            "requests/service.rs -> http/caller.rs",
            "requests/service.rs -> web/forms.rs",
            "requests/service.rs -> web/mod.rs",
        ];
        expect(change, &wanted).unwrap();
    }

    #[test]
    fn test_blocks_and_test_files_may_reach_anything() {
        let change = "== evidence/service.rs
pub struct Evidence;
#[cfg(test)]
#[allow(dead_code)]
mod tests {
    use crate::http::caller::Caller;
    fn f() { crate::web::render(); }
}
#[cfg(test)]
mod more;
== evidence/service/more.rs
use axum::Router;
use crate::routes::router;";
        expect(change, &[]).unwrap();
    }

    #[test]
    fn an_inline_path_in_a_service_is_caught() {
        let change = "== requests/service.rs\npub fn show() {\n    crate::web::render();\n}";
        let wanted = "requests/service.rs -> web/mod.rs (a service may not use web; line 2)";
        expect(change, &[wanted]).unwrap();
    }

    #[test]
    fn a_module_brought_in_by_use_is_followed_in_inline_paths() {
        let change = "== requests/service.rs
use crate::evidence;
use std::fmt;
fn f() { evidence::api_upload::send(); }";
        let wanted = "requests/service.rs -> evidence/api_upload.rs (a service may not use api/pages; line 3)";
        expect(change, &[wanted]).unwrap();
    }

    #[test]
    fn new_features_and_edge_folders_are_discovered() {
        let change = "== cases.rs
pub mod pages;
== cases/pages/mod.rs
use crate::evidence::api_upload;
use crate::routes::router;
use crate::web::render;
use crate::evidence::service::Evidence;";
        let wanted = [
            "cases/pages/mod.rs -> evidence/api_upload.rs (api/pages may not use another feature's api/pages",
            "cases/pages/mod.rs -> routes.rs (nothing but assembly may use assembly; line 2)",
        ];
        expect(change, &wanted).unwrap();
    }
}
