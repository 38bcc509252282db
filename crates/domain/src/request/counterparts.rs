//! A first, small table of counterpart countries for drafting: the
//! languages a request should be written in, the channels it can take, and
//! the instruments the two States share. Facts are deliberately few and
//! conservative (official languages; membership of the Budapest Convention
//! and of the European Union); the knowledge repository replaces this table
//! with sourced country profiles, including the declarations each Party made
//! on languages (Budapest art. 27(9)) and the Second Additional Protocol.

use serde::Serialize;

use super::kind::LegalBasis;
use crate::{CountryCode, Locale};

struct Entry {
    code: &'static str,
    /// ISO 639-1 codes of the official languages.
    languages: &'static [&'static str],
    budapest_party: bool,
    /// Member State bound by Regulation (EU) 2023/1543 (Denmark is not).
    eu_evidence: bool,
}

const TABLE: &[Entry] = &[
    Entry {
        code: "AR",
        languages: &["es"],
        budapest_party: true,
        eu_evidence: false,
    },
    Entry {
        code: "AU",
        languages: &["en"],
        budapest_party: true,
        eu_evidence: false,
    },
    Entry {
        code: "BE",
        languages: &["fr", "nl", "de"],
        budapest_party: true,
        eu_evidence: true,
    },
    Entry {
        code: "BR",
        languages: &["pt"],
        budapest_party: true,
        eu_evidence: false,
    },
    Entry {
        code: "CA",
        languages: &["en", "fr"],
        budapest_party: true,
        eu_evidence: false,
    },
    Entry {
        code: "CL",
        languages: &["es"],
        budapest_party: true,
        eu_evidence: false,
    },
    Entry {
        code: "CO",
        languages: &["es"],
        budapest_party: true,
        eu_evidence: false,
    },
    Entry {
        code: "DE",
        languages: &["de"],
        budapest_party: true,
        eu_evidence: true,
    },
    Entry {
        code: "DK",
        languages: &["da"],
        budapest_party: true,
        eu_evidence: false,
    },
    Entry {
        code: "ES",
        languages: &["es"],
        budapest_party: true,
        eu_evidence: true,
    },
    Entry {
        code: "FR",
        languages: &["fr"],
        budapest_party: true,
        eu_evidence: true,
    },
    Entry {
        code: "GB",
        languages: &["en"],
        budapest_party: true,
        eu_evidence: false,
    },
    Entry {
        code: "IT",
        languages: &["it"],
        budapest_party: true,
        eu_evidence: true,
    },
    Entry {
        code: "JP",
        languages: &["ja"],
        budapest_party: true,
        eu_evidence: false,
    },
    Entry {
        code: "MA",
        languages: &["ar", "fr"],
        budapest_party: true,
        eu_evidence: false,
    },
    Entry {
        code: "MX",
        languages: &["es"],
        budapest_party: false,
        eu_evidence: false,
    },
    Entry {
        code: "NG",
        languages: &["en"],
        budapest_party: true,
        eu_evidence: false,
    },
    Entry {
        code: "NL",
        languages: &["nl"],
        budapest_party: true,
        eu_evidence: true,
    },
    Entry {
        code: "PE",
        languages: &["es"],
        budapest_party: true,
        eu_evidence: false,
    },
    Entry {
        code: "PT",
        languages: &["pt"],
        budapest_party: true,
        eu_evidence: true,
    },
    Entry {
        code: "SN",
        languages: &["fr"],
        budapest_party: true,
        eu_evidence: false,
    },
    Entry {
        code: "US",
        languages: &["en"],
        budapest_party: true,
        eu_evidence: false,
    },
];

/// What drafting needs to know about the requested country.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CounterpartInfo {
    pub country: CountryCode,
    /// Whether the table knows the country at all.
    pub known: bool,
    /// Official languages (ISO 639-1): write the request in one of them, or
    /// check the Party's declarations.
    pub languages: Vec<String>,
    /// The language of the formal document Entraide proposes.
    pub document_language: String,
    /// Channels the request can take.
    pub channels: Vec<String>,
    /// Instruments both States are bound by.
    pub shared_bases: Vec<LegalBasis>,
}

/// The language of the formal document for a requested country: French or
/// Spanish where it is an official language, otherwise English.
pub fn document_language(country: Option<CountryCode>) -> Locale {
    const FRENCH: &[&str] = &[
        "FR", "BE", "LU", "MC", "CH", "SN", "CI", "CM", "MA", "TN", "DZ", "ML", "BF", "NE", "TD",
        "GA", "CG", "CD", "BJ", "TG", "GN", "MG", "HT", "DJ", "KM", "CF", "BI", "RW", "SC", "VU",
    ];
    const SPANISH: &[&str] = &[
        "ES", "AR", "MX", "CO", "CL", "PE", "VE", "EC", "GT", "CU", "BO", "DO", "HN", "PY", "SV",
        "NI", "CR", "PA", "UY", "GQ",
    ];
    match country.map(|c| c.as_str().to_owned()) {
        Some(c) if FRENCH.contains(&c.as_str()) => Locale::Fr,
        Some(c) if SPANISH.contains(&c.as_str()) => Locale::Es,
        _ => Locale::En,
    }
}

fn entry(country: CountryCode) -> Option<&'static Entry> {
    TABLE.iter().find(|e| e.code == country.as_str())
}

/// The counterpart `requested` as seen from `requesting`.
pub fn counterpart(requesting: CountryCode, requested: CountryCode) -> CounterpartInfo {
    let ours = entry(requesting);
    let theirs = entry(requested);
    let languages: Vec<String> = theirs
        .map(|e| e.languages.iter().map(|l| (*l).to_owned()).collect())
        .unwrap_or_default();
    let document_language = document_language(Some(requested)).as_str().to_owned();
    let mut shared_bases = Vec::new();
    let mut channels = Vec::new();
    if let (Some(a), Some(b)) = (ours, theirs) {
        if a.eu_evidence && b.eu_evidence {
            shared_bases.push(LegalBasis::EuRegulation2023_1543);
            channels.push("eu_decentralised_it_system".to_owned());
        }
        if a.budapest_party && b.budapest_party {
            shared_bases.push(LegalBasis::BudapestConvention);
            channels.push("network_24_7".to_owned());
        }
    }
    channels.push("central_authority".to_owned());
    shared_bases.push(LegalBasis::Reciprocity);
    CounterpartInfo {
        country: requested,
        known: theirs.is_some(),
        languages,
        document_language,
        channels,
        shared_bases,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cc(s: &str) -> CountryCode {
        CountryCode::parse(s).unwrap()
    }

    #[test]
    fn shared_instruments() {
        let fr_es = counterpart(cc("FR"), cc("ES"));
        assert_eq!(
            fr_es.shared_bases,
            vec![
                LegalBasis::EuRegulation2023_1543,
                LegalBasis::BudapestConvention,
                LegalBasis::Reciprocity
            ]
        );
        assert_eq!(fr_es.document_language, "es");
        let fr_ar = counterpart(cc("FR"), cc("AR"));
        assert_eq!(
            fr_ar.shared_bases,
            vec![LegalBasis::BudapestConvention, LegalBasis::Reciprocity]
        );
        assert!(fr_ar.channels.contains(&"network_24_7".to_owned()));
        let fr_mx = counterpart(cc("FR"), cc("MX"));
        assert_eq!(fr_mx.shared_bases, vec![LegalBasis::Reciprocity]);
        // Denmark is a Budapest Party but not bound by the EU regulation.
        let fr_dk = counterpart(cc("FR"), cc("DK"));
        assert!(!fr_dk
            .shared_bases
            .contains(&LegalBasis::EuRegulation2023_1543));
        let unknown = counterpart(cc("FR"), cc("TV"));
        assert!(!unknown.known);
        assert_eq!(unknown.document_language, "en");
    }

    #[test]
    fn the_table_agrees_with_the_document_language() {
        for e in TABLE {
            let first = e
                .languages
                .iter()
                .find_map(|l| Locale::parse(l))
                .unwrap_or(Locale::En);
            assert_eq!(document_language(Some(cc(e.code))), first, "{}", e.code);
        }
    }

    #[test]
    fn the_table_has_valid_unique_codes() {
        let mut codes: Vec<&str> = TABLE.iter().map(|e| e.code).collect();
        for c in &codes {
            assert!(CountryCode::parse(c).is_ok(), "{c}");
        }
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), TABLE.len());
    }
}
