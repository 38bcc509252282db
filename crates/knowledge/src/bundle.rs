//! The JSON format for everything that is not legislation text
//! (`docs/knowledge-format.md`): treaties and their parties, country
//! profiles, case law, good practices and the offence taxonomy.
//!
//! A file is `{"format": "entraide-knowledge/1", "treaties": [...], ...}`;
//! any of the lists may be left out. Unknown fields are refused (a typo
//! must not silently drop data). Localised text is `{"en": ..., "fr": ...,
//! "es": ...}` with at least one language.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use time::Date;

use crate::model::{
    pick, pick_opt, valid_slug, ContentType, Document, Jurisdiction, LangText, Localised, Record,
};
use crate::ImportError;

pub const FORMAT: &str = "entraide-knowledge/1";

/// The languages the repository's own content is written in.
pub const LANGUAGES: [&str; 3] = ["en", "fr", "es"];

mod iso_date {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::Date;

    const FORMAT: &[time::format_description::BorrowedFormatItem<'static>] =
        time::macros::format_description!("[year]-[month]-[day]");

    pub fn serialize<S: Serializer>(d: &Option<Date>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_str(&d.format(FORMAT).map_err(serde::ser::Error::custom)?),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Date>, D::Error> {
        let s: Option<String> = Option::deserialize(d)?;
        s.map(|s| {
            Date::parse(&s, FORMAT)
                .map_err(|_| serde::de::Error::custom(format!("'{s}' is not a date (YYYY-MM-DD)")))
        })
        .transpose()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceRef {
    pub title: String,
    #[serde(default)]
    pub url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TreatyArticle {
    pub number: String,
    pub title: Localised,
    #[serde(default)]
    pub summary: Option<Localised>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TreatyParty {
    pub country: String,
    #[serde(default, with = "iso_date")]
    pub signed: Option<Date>,
    #[serde(default, with = "iso_date")]
    pub ratified: Option<Date>,
    #[serde(default, with = "iso_date")]
    pub in_force: Option<Date>,
    #[serde(default)]
    pub reservations: Option<Localised>,
    #[serde(default)]
    pub declarations: Option<Localised>,
    #[serde(default)]
    pub note: Option<Localised>,
}

impl TreatyParty {
    /// Bound by the treaty on `date`: in force for this party by then.
    pub fn bound_on(&self, date: Date) -> bool {
        self.in_force.is_some_and(|d| d <= date)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Treaty {
    pub id: String,
    pub title: Localised,
    #[serde(default)]
    pub short_title: Option<Localised>,
    #[serde(default, with = "iso_date")]
    pub adopted: Option<Date>,
    #[serde(default, with = "iso_date")]
    pub in_force: Option<Date>,
    /// The identifier of the imported full text, if any.
    #[serde(default)]
    pub text_instrument: Option<String>,
    #[serde(default)]
    pub source_url: Option<String>,
    #[serde(default)]
    pub summary: Option<Localised>,
    #[serde(default)]
    pub articles: Vec<TreatyArticle>,
    #[serde(default)]
    pub parties: Vec<TreatyParty>,
    #[serde(default)]
    pub note: Option<Localised>,
}

impl Treaty {
    pub fn party(&self, country: &str) -> Option<&TreatyParty> {
        self.parties.iter().find(|p| p.country == country)
    }
}

/// The procedural powers of Budapest arts. 16-21.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProceduralPower {
    /// Art. 16 (and 17 for traffic data).
    ExpeditedPreservation,
    /// Art. 18(1)(a).
    ProductionOrder,
    /// Art. 18(1)(b) and 18(3).
    SubscriberInformation,
    /// Art. 19.
    SearchSeizure,
    /// Art. 20.
    RealTimeTraffic,
    /// Art. 21.
    Interception,
}

impl ProceduralPower {
    pub const ALL: [ProceduralPower; 6] = [
        Self::ExpeditedPreservation,
        Self::ProductionOrder,
        Self::SubscriberInformation,
        Self::SearchSeizure,
        Self::RealTimeTraffic,
        Self::Interception,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::ExpeditedPreservation => "expedited_preservation",
            Self::ProductionOrder => "production_order",
            Self::SubscriberInformation => "subscriber_information",
            Self::SearchSeizure => "search_seizure",
            Self::RealTimeTraffic => "real_time_traffic",
            Self::Interception => "interception",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// The Budapest Convention article that asks Parties for this power.
    pub fn budapest_article(&self) -> &'static str {
        match self {
            Self::ExpeditedPreservation => "16",
            Self::ProductionOrder => "18",
            Self::SubscriberInformation => "18",
            Self::SearchSeizure => "19",
            Self::RealTimeTraffic => "20",
            Self::Interception => "21",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PowerEntry {
    pub power: ProceduralPower,
    /// `None`: not known.
    pub exists: Option<bool>,
    #[serde(default)]
    pub citation: Option<String>,
    #[serde(default, rename = "ref")]
    pub reference: Option<String>,
    #[serde(default)]
    pub note: Option<Localised>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionEntry {
    /// traffic, subscriber, location, content.
    pub data: String,
    /// ISO 8601 duration ("P1Y"), or none when there is no general duty.
    #[serde(default)]
    pub period: Option<String>,
    #[serde(default)]
    pub citation: Option<String>,
    #[serde(default, rename = "ref")]
    pub reference: Option<String>,
    #[serde(default)]
    pub note: Option<Localised>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MlaRequirements {
    pub central_authority: String,
    #[serde(default)]
    pub languages: Vec<String>,
    #[serde(default)]
    pub channels: Vec<String>,
    #[serde(default)]
    pub point_of_contact_24_7: Option<String>,
    #[serde(default)]
    pub requirements: Option<Localised>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CountryProfile {
    pub country: String,
    pub name: Localised,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub summary: Option<Localised>,
    #[serde(default)]
    pub powers: Vec<PowerEntry>,
    #[serde(default)]
    pub retention: Vec<RetentionEntry>,
    pub mla: MlaRequirements,
    #[serde(default)]
    pub sources: Vec<SourceRef>,
}

impl CountryProfile {
    pub fn power(&self, p: ProceduralPower) -> Option<&PowerEntry> {
        self.powers.iter().find(|e| e.power == p)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OffenceProvision {
    /// None for an international instrument's own article.
    #[serde(default)]
    pub country: Option<String>,
    #[serde(default, rename = "ref")]
    pub reference: Option<String>,
    pub citation: String,
    #[serde(default)]
    pub penalty: Option<Localised>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OffenceCategory {
    pub id: String,
    pub labels: Localised,
    /// Phrases people type for this offence, per language.
    #[serde(default)]
    pub synonyms: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub description: Option<Localised>,
    #[serde(default)]
    pub provisions: Vec<OffenceProvision>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Citation {
    #[serde(default, rename = "ref")]
    pub reference: Option<String>,
    pub citation: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseLaw {
    pub id: String,
    pub country: String,
    pub court: String,
    #[serde(default, with = "iso_date")]
    pub date: Option<Date>,
    #[serde(default)]
    pub reference: Option<String>,
    #[serde(default)]
    pub parties: Option<String>,
    pub summary: Localised,
    #[serde(default)]
    pub provisions_cited: Vec<Citation>,
    #[serde(default)]
    pub outcome: Option<Localised>,
    #[serde(default)]
    pub offences: Vec<String>,
    #[serde(default)]
    pub source_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoodPractice {
    pub id: String,
    pub title: Localised,
    /// prevention, cooperation, capacity-building.
    pub theme: String,
    pub summary: Localised,
    #[serde(default)]
    pub countries: Vec<String>,
    #[serde(default)]
    pub source: Option<SourceRef>,
}

/// One file of the JSON format.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    pub format: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub treaties: Vec<Treaty>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub country_profiles: Vec<CountryProfile>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub offences: Vec<OffenceCategory>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub case_law: Vec<CaseLaw>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub good_practices: Vec<GoodPractice>,
}

/// Reads and checks one JSON file; every problem names the file and the
/// line or the item at fault.
pub fn parse(file: &str, text: &str) -> Result<Bundle, ImportError> {
    let bundle: Bundle =
        serde_json::from_str(text).map_err(|e| ImportError::new(file, e.line(), format!("{e}")))?;
    if bundle.format != FORMAT {
        return Err(ImportError::new(
            file,
            0,
            format!("format is '{}', expected '{FORMAT}'", bundle.format),
        ));
    }
    check(file, &bundle)?;
    Ok(bundle)
}

fn err(file: &str, at: String, message: impl std::fmt::Display) -> ImportError {
    ImportError::new(file, 0, format!("{at}: {message}"))
}

fn check_country(file: &str, at: &str, code: &str) -> Result<(), ImportError> {
    match Jurisdiction::parse(code) {
        Ok(Jurisdiction::Country(c)) if c.as_str() == code => Ok(()),
        Ok(Jurisdiction::EuropeanUnion) if code == "EU" => Ok(()),
        Ok(_) => Err(err(
            file,
            at.to_owned(),
            format!("country '{code}' must be an upper-case ISO 3166-1 alpha-2 code"),
        )),
        Err(m) => Err(err(file, at.to_owned(), m)),
    }
}

fn check_text(file: &str, at: &str, l: &Localised) -> Result<(), ImportError> {
    if l.is_empty() || l.values().all(|v| v.trim().is_empty()) {
        return Err(err(file, at.to_owned(), "text is empty"));
    }
    for lang in l.keys() {
        if lang.len() != 2 || !lang.chars().all(|c| c.is_ascii_lowercase()) {
            return Err(err(
                file,
                at.to_owned(),
                format!("'{lang}' is not a language code"),
            ));
        }
    }
    Ok(())
}

fn check_id(
    file: &str,
    at: &str,
    id: &str,
    seen: &mut HashMap<String, String>,
) -> Result<(), ImportError> {
    if !valid_slug(id) {
        return Err(err(
            file,
            at.to_owned(),
            format!("identifier '{id}' must be 2-100 lower-case letters, digits or hyphens"),
        ));
    }
    if let Some(first) = seen.insert(id.to_owned(), at.to_owned()) {
        return Err(err(
            file,
            at.to_owned(),
            format!("duplicate identifier '{id}' (also {first})"),
        ));
    }
    Ok(())
}

fn check(file: &str, b: &Bundle) -> Result<(), ImportError> {
    let mut seen = HashMap::new();
    for (i, t) in b.treaties.iter().enumerate() {
        let at = format!("treaties[{i}]");
        check_id(file, &at, &format!("treaty-{}", t.id), &mut seen)?;
        check_text(file, &format!("{at}.title"), &t.title)?;
        let mut parties = HashMap::new();
        for (j, p) in t.parties.iter().enumerate() {
            let pat = format!("{at}.parties[{j}]");
            check_country(file, &pat, &p.country)?;
            if parties.insert(p.country.clone(), j).is_some() {
                return Err(err(
                    file,
                    pat,
                    format!("party '{}' is listed twice", p.country),
                ));
            }
        }
        for (j, a) in t.articles.iter().enumerate() {
            check_text(file, &format!("{at}.articles[{j}].title"), &a.title)?;
        }
    }
    let mut profiles = HashMap::new();
    for (i, p) in b.country_profiles.iter().enumerate() {
        let at = format!("country_profiles[{i}]");
        check_country(file, &at, &p.country)?;
        if profiles.insert(p.country.clone(), i).is_some() {
            return Err(err(
                file,
                at,
                format!("duplicate profile for '{}'", p.country),
            ));
        }
        check_text(file, &format!("{at}.name"), &p.name)?;
        if p.mla.central_authority.trim().is_empty() {
            return Err(err(
                file,
                format!("{at}.mla.central_authority"),
                "text is empty",
            ));
        }
    }
    for (i, o) in b.offences.iter().enumerate() {
        let at = format!("offences[{i}]");
        check_id(file, &at, &format!("offence-{}", o.id), &mut seen)?;
        check_text(file, &format!("{at}.labels"), &o.labels)?;
        for (j, p) in o.provisions.iter().enumerate() {
            let pat = format!("{at}.provisions[{j}]");
            if let Some(c) = &p.country {
                check_country(file, &pat, c)?;
            }
            if p.citation.trim().is_empty() {
                return Err(err(file, format!("{pat}.citation"), "text is empty"));
            }
        }
    }
    for (i, c) in b.case_law.iter().enumerate() {
        let at = format!("case_law[{i}]");
        check_id(file, &at, &format!("case-{}", c.id), &mut seen)?;
        check_country(file, &at, &c.country)?;
        check_text(file, &format!("{at}.summary"), &c.summary)?;
    }
    for (i, g) in b.good_practices.iter().enumerate() {
        let at = format!("good_practices[{i}]");
        check_id(file, &at, &format!("practice-{}", g.id), &mut seen)?;
        check_text(file, &format!("{at}.title"), &g.title)?;
        check_text(file, &format!("{at}.summary"), &g.summary)?;
        for c in &g.countries {
            check_country(file, &at, c)?;
        }
    }
    Ok(())
}

fn languages_of(l: &Localised) -> Vec<String> {
    let mut langs: Vec<String> = l.keys().cloned().collect();
    // English first: it is the original of the project's own content.
    langs.sort_by_key(|l| (l != "en", l.clone()));
    langs
}

// One call per record type, each naming every part of the document.
#[allow(clippy::too_many_arguments)]
fn doc(
    id: String,
    content_type: ContentType,
    jurisdiction: Jurisdiction,
    date: Option<Date>,
    source_url: Option<String>,
    langs: &[String],
    title: impl Fn(&str) -> String,
    text: impl Fn(&str) -> String,
    record: Record,
) -> Document {
    Document {
        unit: id.clone(),
        id,
        content_type,
        jurisdiction,
        instrument: None,
        instrument_title: None,
        number: None,
        label: None,
        path: Vec::new(),
        position: 0,
        date,
        source_url,
        licence: None,
        texts: langs
            .iter()
            .map(|l| LangText {
                lang: l.clone(),
                title: title(l),
                text: text(l),
            })
            .collect(),
        record: Some(record),
    }
}

fn join(parts: Vec<String>) -> String {
    parts
        .into_iter()
        .filter(|p| !p.trim().is_empty())
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// The documents of a bundle (one per treaty, profile, decision, practice
/// and offence category), each its own import unit.
pub fn documents(b: &Bundle) -> Vec<Document> {
    let mut out = Vec::new();
    let country = |c: &str| Jurisdiction::parse(c).unwrap_or(Jurisdiction::International);
    for t in &b.treaties {
        let langs = languages_of(&t.title);
        out.push(doc(
            format!("treaty:{}", t.id),
            ContentType::Treaty,
            Jurisdiction::International,
            t.adopted,
            t.source_url.clone(),
            &langs,
            |l| pick(&t.title, l).to_owned(),
            |l| {
                let mut parts = vec![pick_opt(&t.short_title, l), pick_opt(&t.summary, l)];
                for a in &t.articles {
                    parts.push(format!("{} {}. {}", "Art.", a.number, pick(&a.title, l)));
                    parts.push(pick_opt(&a.summary, l));
                }
                join(parts)
            },
            Record::Treaty(t.clone()),
        ));
    }
    for p in &b.country_profiles {
        let langs = languages_of(&p.name);
        out.push(doc(
            format!("country:{}", p.country),
            ContentType::CountryProfile,
            country(&p.country),
            None,
            None,
            &langs,
            |l| pick(&p.name, l).to_owned(),
            |l| {
                let mut parts = vec![pick_opt(&p.summary, l), p.mla.central_authority.clone()];
                parts.push(pick_opt(&p.mla.requirements, l));
                for e in &p.powers {
                    parts.push(e.citation.clone().unwrap_or_default());
                    parts.push(pick_opt(&e.note, l));
                }
                for r in &p.retention {
                    parts.push(pick_opt(&r.note, l));
                }
                join(parts)
            },
            Record::CountryProfile(p.clone()),
        ));
    }
    for o in &b.offences {
        let langs = languages_of(&o.labels);
        out.push(doc(
            format!("offence:{}", o.id),
            ContentType::Offence,
            Jurisdiction::International,
            None,
            None,
            &langs,
            |l| pick(&o.labels, l).to_owned(),
            |l| {
                let mut parts = vec![pick_opt(&o.description, l)];
                if let Some(s) = o.synonyms.get(l) {
                    parts.push(s.join(", "));
                }
                parts.extend(o.provisions.iter().map(|p| p.citation.clone()));
                join(parts)
            },
            Record::Offence(o.clone()),
        ));
    }
    for c in &b.case_law {
        let langs = languages_of(&c.summary);
        out.push(doc(
            format!("case:{}", c.id),
            ContentType::CaseLaw,
            country(&c.country),
            c.date,
            c.source_url.clone(),
            &langs,
            |_| {
                let mut t = c.court.clone();
                if let Some(r) = &c.reference {
                    t.push_str(", ");
                    t.push_str(r);
                }
                t
            },
            |l| {
                let mut parts = vec![pick(&c.summary, l).to_owned(), pick_opt(&c.outcome, l)];
                parts.extend(c.provisions_cited.iter().map(|p| p.citation.clone()));
                join(parts)
            },
            Record::CaseLaw(c.clone()),
        ));
    }
    for g in &b.good_practices {
        let langs = languages_of(&g.title);
        out.push(doc(
            format!("practice:{}", g.id),
            ContentType::GoodPractice,
            Jurisdiction::International,
            None,
            g.source.as_ref().and_then(|s| s.url.clone()),
            &langs,
            |l| pick(&g.title, l).to_owned(),
            |l| pick(&g.summary, l).to_owned(),
            Record::GoodPractice(g.clone()),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_checks() {
        let ok = r#"{"format":"entraide-knowledge/1","treaties":[{"id":"coe-ets-185","title":{"en":"Convention on Cybercrime","fr":"Convention sur la cybercriminalité"},"adopted":"2001-11-23","parties":[{"country":"FR","in_force":"2006-05-01"}]}]}"#;
        let b = parse("t.json", ok).unwrap();
        let docs = documents(&b);
        assert_eq!(docs[0].id, "treaty:coe-ets-185");
        assert_eq!(docs[0].texts.len(), 2);
        assert_eq!(docs[0].texts[0].lang, "en");
        let bad_country = ok.replace("\"FR\"", "\"XX\"");
        let e = parse("t.json", &bad_country).unwrap_err();
        assert!(
            e.to_string()
                .contains("treaties[0].parties[0]: unknown country code 'XX'"),
            "{e}"
        );
        let unknown = ok.replace("\"adopted\"", "\"adoptd\"");
        let e = parse("t.json", &unknown).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("t.json:1: unknown field `adoptd`"),
            "{e}"
        );
        let dup = r#"{"format":"entraide-knowledge/1","good_practices":[{"id":"a1","title":{"en":"x"},"theme":"prevention","summary":{"en":"y"}},{"id":"a1","title":{"en":"x"},"theme":"prevention","summary":{"en":"y"}}]}"#;
        let e = parse("g.json", dup).unwrap_err();
        assert!(
            e.to_string().contains("duplicate identifier 'practice-a1'"),
            "{e}"
        );
        let empty = dup.replace("\"y\"", "\"\"");
        assert!(parse("g.json", &empty)
            .unwrap_err()
            .to_string()
            .contains("summary: text is empty"));
        let e = parse("g.json", "{\"format\": 1").unwrap_err();
        assert_eq!(e.line, 1);
        let e = parse("g.json", r#"{"format":"other"}"#).unwrap_err();
        assert!(e.message.contains("expected 'entraide-knowledge/1'"));
    }

    #[test]
    fn parties_bound_on_a_date() {
        let d = |s: &str| {
            Date::parse(s, time::macros::format_description!("[year]-[month]-[day]")).unwrap()
        };
        let p = TreatyParty {
            country: "AR".into(),
            signed: None,
            ratified: Some(d("2018-06-05")),
            in_force: Some(d("2018-10-01")),
            reservations: None,
            declarations: None,
            note: None,
        };
        assert!(!p.bound_on(d("2018-09-30")));
        assert!(p.bound_on(d("2018-10-01")));
    }
}
