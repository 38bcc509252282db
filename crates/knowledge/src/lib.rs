//! The knowledge repository without I/O.
//!
//! - [`model`]: what the repository holds — [`Document`]s (an instrument or
//!   one of its articles, a treaty, a country profile, a court decision, a
//!   good practice, an offence category), each with a stable identifier that
//!   is also its permalink, and the structured records behind them.
//! - [`markdown`]: the importer for legislation written as Markdown with YAML
//!   front matter (the format of `shared/corpus/`), which splits a law into
//!   article- or section-level documents and keeps the hierarchy (book,
//!   title, chapter...).
//! - [`bundle`]: the documented JSON format for everything else (treaties and
//!   their parties, country profiles, case law, good practices, the offence
//!   taxonomy).
//! - [`taxonomy`]: offence categories and the phrases that name them in
//!   English, French and Spanish — the bridge between languages in search.
//! - [`helper`]: the legal-basis and dual-criminality helper used when
//!   drafting a request, and [`compare`]: provisions side by side across
//!   countries.
//!
//! Every failure names the file and the line (or the JSON path) at fault.

pub mod bundle;
pub mod compare;
pub mod frontmatter;
pub mod helper;
pub mod markdown;
pub mod model;
pub mod taxonomy;
pub mod text;

pub use model::*;

/// A failure to import: which file, which line (0 when it concerns the
/// whole file), and what is wrong, in one sentence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}{}: {message}", if *.line > 0 { format!(":{}", .line) } else { String::new() })]
pub struct ImportError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

impl ImportError {
    pub fn new(file: &str, line: usize, message: impl Into<String>) -> Self {
        Self {
            file: file.to_owned(),
            line,
            message: message.into(),
        }
    }
}

/// Something the importer accepted but the person importing should know
/// (an article without text skipped, a repeated article number).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ImportWarning {
    pub file: String,
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for ImportWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}
