//! Provisions side by side across countries, for an offence category or a
//! procedural power.

use serde::Serialize;

use crate::bundle::{CountryProfile, OffenceCategory, ProceduralPower};
use crate::Localised;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    Offence(String),
    Power(ProceduralPower),
}

impl Subject {
    /// "offence:illegal-access" or "power:interception".
    pub fn parse(s: &str) -> Option<Self> {
        let (kind, id) = s.split_once(':')?;
        match kind {
            "offence" if !id.is_empty() => Some(Self::Offence(id.to_owned())),
            "power" => ProceduralPower::parse(id).map(Self::Power),
            _ => None,
        }
    }

    pub fn as_string(&self) -> String {
        match self {
            Self::Offence(id) => format!("offence:{id}"),
            Self::Power(p) => format!("power:{}", p.as_str()),
        }
    }
}

/// One provision in one country's column.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub citation: String,
    /// The article's identifier when its text is in the repository.
    pub reference: Option<String>,
    /// For a power: whether it exists (None: unknown).
    pub exists: Option<bool>,
    pub penalty: Option<Localised>,
    pub note: Option<Localised>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Column {
    pub country: String,
    pub entries: Vec<Entry>,
}

pub fn compare(
    subject: &Subject,
    countries: &[String],
    offences: &[OffenceCategory],
    profiles: &[CountryProfile],
) -> Vec<Column> {
    countries
        .iter()
        .map(|c| {
            let entries = match subject {
                Subject::Offence(id) => offences
                    .iter()
                    .filter(|o| &o.id == id)
                    .flat_map(|o| o.provisions.iter())
                    .filter(|p| p.country.as_deref() == Some(c.as_str()))
                    .map(|p| Entry {
                        citation: p.citation.clone(),
                        reference: p.reference.clone(),
                        exists: Some(true),
                        penalty: p.penalty.clone(),
                        note: None,
                    })
                    .collect(),
                Subject::Power(power) => profiles
                    .iter()
                    .filter(|p| &p.country == c)
                    .filter_map(|p| p.power(*power))
                    .map(|e| Entry {
                        citation: e.citation.clone().unwrap_or_default(),
                        reference: e.reference.clone(),
                        exists: e.exists,
                        penalty: None,
                        note: e.note.clone(),
                    })
                    .collect(),
            };
            Column {
                country: c.clone(),
                entries,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_parse() {
        assert_eq!(
            Subject::parse("offence:illegal-access"),
            Some(Subject::Offence("illegal-access".into()))
        );
        assert_eq!(
            Subject::parse("power:interception"),
            Some(Subject::Power(ProceduralPower::Interception))
        );
        assert_eq!(Subject::parse("power:teleportation"), None);
        assert_eq!(Subject::parse("nothing"), None);
    }
}
