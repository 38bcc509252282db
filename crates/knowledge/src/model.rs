//! What the repository holds.

use std::collections::BTreeMap;

use entraide_domain::CountryCode;
use serde::{Deserialize, Serialize};
use time::Date;

use crate::bundle::{CaseLaw, CountryProfile, GoodPractice, OffenceCategory, Treaty};

/// Where a text applies: a country, the European Union, or international
/// law (a treaty).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Jurisdiction {
    Country(CountryCode),
    EuropeanUnion,
    International,
}

impl Jurisdiction {
    /// Accepts ISO 3166-1 alpha-2 codes in either case, "uk" for the United
    /// Kingdom (the exceptionally reserved code used by legislation.gov.uk),
    /// "eu" and "int"/"intl".
    pub fn parse(input: &str) -> Result<Self, String> {
        let t = input.trim();
        match t.to_ascii_lowercase().as_str() {
            "eu" => Ok(Self::EuropeanUnion),
            "int" | "intl" | "international" => Ok(Self::International),
            "uk" => CountryCode::parse("GB")
                .map(Self::Country)
                .map_err(|e| e.to_string()),
            _ => CountryCode::parse(t)
                .map(Self::Country)
                .map_err(|_| format!("unknown country code '{t}'")),
        }
    }

    /// "FR", "EU" or "INT".
    pub fn code(&self) -> String {
        match self {
            Self::Country(c) => c.as_str().to_owned(),
            Self::EuropeanUnion => "EU".to_owned(),
            Self::International => "INT".to_owned(),
        }
    }

    pub fn country(&self) -> Option<CountryCode> {
        match self {
            Self::Country(c) => Some(*c),
            _ => None,
        }
    }
}

impl Serialize for Jurisdiction {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.code())
    }
}

impl<'de> Deserialize<'de> for Jurisdiction {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// The content types the repository knows (a search facet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ContentType {
    Legislation,
    Treaty,
    CaseLaw,
    CountryProfile,
    GoodPractice,
    Offence,
}

impl ContentType {
    pub const ALL: [ContentType; 6] = [
        Self::Legislation,
        Self::Treaty,
        Self::CaseLaw,
        Self::CountryProfile,
        Self::GoodPractice,
        Self::Offence,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Legislation => "legislation",
            Self::Treaty => "treaty",
            Self::CaseLaw => "case-law",
            Self::CountryProfile => "country-profile",
            Self::GoodPractice => "good-practice",
            Self::Offence => "offence",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// Text in several languages: language code → text. At least one entry.
pub type Localised = BTreeMap<String, String>;

/// The text for `lang`, else English, else any.
pub fn pick<'a>(l: &'a Localised, lang: &str) -> &'a str {
    l.get(lang)
        .or_else(|| l.get("en"))
        .or_else(|| l.values().next())
        .map(String::as_str)
        .unwrap_or("")
}

/// [`pick`] of optional text; empty when there is none.
pub fn pick_opt(l: &Option<Localised>, lang: &str) -> String {
    l.as_ref()
        .map(|l| pick(l, lang).to_owned())
        .unwrap_or_default()
}

/// One language version of a document's title and text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LangText {
    /// ISO 639-1 ("fr", "en", "es", "nl").
    pub lang: String,
    pub title: String,
    pub text: String,
}

/// The structured record behind a document that is not legislation text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "record", rename_all = "kebab-case")]
pub enum Record {
    Treaty(Treaty),
    CountryProfile(CountryProfile),
    CaseLaw(CaseLaw),
    GoodPractice(GoodPractice),
    Offence(OffenceCategory),
}

/// One searchable, citable document. Its `id` is its permalink:
/// `LEGITEXT000006070719` (an instrument), `LEGITEXT000006070719:323-1`
/// (one of its articles), `treaty:coe-ets-185`, `country:FR`,
/// `case:...`, `practice:...`, `offence:illegal-access`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Document {
    pub id: String,
    /// The import unit this document belongs to: re-importing a unit
    /// replaces all of its documents at once (a law and its articles, or
    /// one treaty, one profile...).
    pub unit: String,
    pub content_type: ContentType,
    pub jurisdiction: Jurisdiction,
    /// For an article: the instrument it belongs to.
    pub instrument: Option<String>,
    pub instrument_title: Option<String>,
    /// For an article: its number as written ("323-1", "153 bis", "1").
    pub number: Option<String>,
    /// For an article: its label as the text writes it ("Article 323-1",
    /// "Section 1", "§ 1030", "Artículo 153 bis").
    pub label: Option<String>,
    /// Book, title, chapter... from the outermost.
    pub path: Vec<String>,
    /// Order within the instrument.
    pub position: u32,
    /// Version date of legislation, decision date, adoption date.
    pub date: Option<Date>,
    pub source_url: Option<String>,
    pub licence: Option<String>,
    /// One entry per language the document exists in; the first is the
    /// original.
    pub texts: Vec<LangText>,
    pub record: Option<Record>,
}

impl Document {
    pub fn is_article(&self) -> bool {
        self.instrument.is_some()
    }

    /// The language version for `lang`, else the original.
    pub fn text_in(&self, lang: &str) -> Option<&LangText> {
        self.texts
            .iter()
            .find(|t| t.lang == lang)
            .or_else(|| self.texts.first())
    }

    pub fn original_language(&self) -> &str {
        self.texts.first().map(|t| t.lang.as_str()).unwrap_or("")
    }

    pub fn title_in(&self, lang: &str) -> String {
        self.text_in(lang)
            .map(|t| t.title.clone())
            .unwrap_or_default()
    }

    /// A citation to copy: "Code pénal (FR), Article 323-1 — <permalink>".
    pub fn citation(&self, lang: &str) -> String {
        let place = self.jurisdiction.code();
        match (&self.instrument_title, &self.label) {
            (Some(instrument), Some(label)) => format!("{instrument} ({place}), {label}"),
            _ => format!("{} ({place})", self.title_in(lang)),
        }
    }

    /// The year used by the year facet.
    pub fn year(&self) -> Option<i32> {
        self.date.map(|d| d.year())
    }
}

/// Turns an article number into the part of its identifier after the
/// instrument: lower case, spaces as hyphens ("153 BIS" → "153-bis").
pub fn article_slug(number: &str) -> String {
    let n = number
        .trim()
        .trim_end_matches(['.', ':', '\u{ba}', '\u{b0}'])
        .replace(". ", "");
    let mut out = String::with_capacity(n.len());
    for c in n.chars() {
        if c.is_whitespace() {
            if !out.is_empty() && !out.ends_with('-') {
                out.push('-');
            }
        } else if c == '\u{ba}' || c == '\u{b0}' {
            // "1º": the ordinal mark is not part of the number.
        } else if c.is_alphanumeric() || c == '-' || c == '.' {
            out.extend(c.to_lowercase());
        }
    }
    out.trim_matches(['-', '.']).to_owned()
}

/// Checks an identifier written by hand (treaty, case, practice, offence):
/// lower-case letters, digits and hyphens, 2 to 100 characters.
pub fn valid_slug(s: &str) -> bool {
    (2..=100).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.starts_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jurisdictions() {
        assert_eq!(Jurisdiction::parse("fr").map(|j| j.code()), Ok("FR".into()));
        assert_eq!(Jurisdiction::parse("uk").map(|j| j.code()), Ok("GB".into()));
        assert_eq!(Jurisdiction::parse("EU").map(|j| j.code()), Ok("EU".into()));
        assert!(Jurisdiction::parse("zz").is_err());
    }

    #[test]
    fn slugs() {
        assert_eq!(article_slug("323-1"), "323-1");
        assert_eq!(article_slug("153 BIS"), "153-bis");
        assert_eq!(article_slug("L34-1"), "l34-1");
        assert_eq!(article_slug("L. 34-1"), "l34-1");
        assert_eq!(article_slug("R*123-4"), "r123-4");
        assert_eq!(article_slug("3ZA"), "3za");
    }
}
