//! YAML front matter as legislation files use it: flat `key: value` lines
//! between two `---` lines, values plain or double-quoted (with JSON-style
//! escapes) or `[...]` lists of quoted strings.

use std::collections::BTreeMap;

use crate::ImportError;

/// A front-matter value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Text(String),
    List(Vec<String>),
}

impl Value {
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Self::Text(s) => Some(s),
            Self::List(_) => None,
        }
    }
}

/// Front matter and the line (1-based) where the body starts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FrontMatter {
    pub fields: BTreeMap<String, (usize, Value)>,
    pub body_start: usize,
}

impl FrontMatter {
    pub fn text(&self, key: &str) -> Option<&str> {
        self.fields
            .get(key)
            .and_then(|(_, v)| v.as_text())
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }

    pub fn line_of(&self, key: &str) -> usize {
        self.fields.get(key).map(|(l, _)| *l).unwrap_or(1)
    }
}

/// Reads the front matter at the top of `text`, if there is one. Lines are
/// counted from 1; a file without front matter gives an empty one starting
/// at line 1.
pub fn parse(file: &str, text: &str) -> Result<FrontMatter, ImportError> {
    let mut lines = text.lines().enumerate();
    match lines.next() {
        Some((_, first)) if first.trim_end() == "---" => {}
        _ => {
            return Ok(FrontMatter {
                fields: BTreeMap::new(),
                body_start: 1,
            })
        }
    }
    let mut fields = BTreeMap::new();
    for (i, line) in lines {
        let n = i + 1;
        if line.trim_end() == "---" {
            return Ok(FrontMatter {
                fields,
                body_start: n + 1,
            });
        }
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let Some((key, raw)) = line.split_once(':') else {
            return Err(ImportError::new(
                file,
                n,
                format!(
                    "front matter: expected `key: value`, found `{}`",
                    clip(line)
                ),
            ));
        };
        let key = key.trim();
        if key.is_empty()
            || !key
                .chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
        {
            return Err(ImportError::new(
                file,
                n,
                format!("front matter: `{}` is not a valid key", clip(key)),
            ));
        }
        let value = parse_value(raw.trim()).map_err(|m| {
            ImportError::new(file, n, format!("front matter: value of `{key}`: {m}"))
        })?;
        if fields.insert(key.to_owned(), (n, value)).is_some() {
            return Err(ImportError::new(
                file,
                n,
                format!("front matter: `{key}` is given twice"),
            ));
        }
    }
    Err(ImportError::new(
        file,
        1,
        "front matter: the opening `---` has no closing `---`",
    ))
}

fn parse_value(raw: &str) -> Result<Value, String> {
    if raw.starts_with('"') {
        serde_json::from_str::<String>(raw)
            .map(Value::Text)
            .map_err(|_| "the quoted string is not closed or has an invalid escape".to_owned())
    } else if raw.starts_with('[') {
        serde_json::from_str::<Vec<String>>(raw)
            .map(Value::List)
            .map_err(|_| "a list must be `[\"a\", \"b\"]`".to_owned())
    } else if let Some(inner) = raw.strip_prefix('\'') {
        inner
            .strip_suffix('\'')
            .map(|s| Value::Text(s.replace("''", "'")))
            .ok_or_else(|| "the quoted string is not closed".to_owned())
    } else {
        Ok(Value::Text(raw.to_owned()))
    }
}

fn clip(s: &str) -> String {
    crate::text::excerpt(s, 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_flat_yaml() {
        let fm = parse(
            "f.md",
            "---\ntitle: \"Code \\\"pénal\\\"\"\ncountry: fr\nsubjects: [\"a\", \"b\"]\n---\n# T\n",
        )
        .unwrap();
        assert_eq!(fm.text("title"), Some("Code \"pénal\""));
        assert_eq!(fm.text("country"), Some("fr"));
        assert_eq!(
            fm.fields["subjects"].1,
            Value::List(vec!["a".into(), "b".into()])
        );
        assert_eq!(fm.body_start, 6);
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse("f.md", "---\ntitle: \"x\"\nnot a pair\n---\n").unwrap_err();
        assert_eq!((e.line, e.file.as_str()), (3, "f.md"));
        let e = parse("f.md", "---\ntitle: \"open\n---\n").unwrap_err();
        assert_eq!(e.line, 2);
        let e = parse("f.md", "---\ntitle: x\n").unwrap_err();
        assert!(e.message.contains("no closing"));
        assert_eq!(parse("f.md", "# no front matter").unwrap().body_start, 1);
    }
}
