//! The offence taxonomy as a bridge between languages: the phrases that
//! name each category in English, French and Spanish, and the national
//! provisions each maps to. A search for "illegal access" also finds
//! Code pénal art. 323-1 and Computer Misuse Act s. 1 through it.

use std::collections::{BTreeMap, BTreeSet};

use crate::bundle::OffenceCategory;
use crate::text::{contains_phrase, words};

#[derive(Debug, Clone, Default)]
pub struct Taxonomy {
    /// (offence id, phrase words), longest phrases first.
    phrases: Vec<(String, Vec<String>)>,
    /// Document id → offence ids.
    mapped: BTreeMap<String, BTreeSet<String>>,
    labels: BTreeMap<String, crate::Localised>,
}

impl Taxonomy {
    pub fn new(categories: &[OffenceCategory]) -> Self {
        let mut t = Taxonomy::default();
        for c in categories {
            let mut phrases: Vec<&String> = c.labels.values().collect();
            phrases.extend(c.synonyms.values().flatten());
            for p in phrases {
                let w = words(p);
                if !w.is_empty() {
                    t.phrases.push((c.id.clone(), w));
                }
            }
            for p in &c.provisions {
                if let Some(r) = &p.reference {
                    t.mapped.entry(r.clone()).or_default().insert(c.id.clone());
                }
            }
            t.labels.insert(c.id.clone(), c.labels.clone());
        }
        t.phrases.sort_by_key(|(_, w)| std::cmp::Reverse(w.len()));
        t
    }

    /// The categories named in `query` (any language, accents optional).
    pub fn named_in(&self, query: &str) -> Vec<String> {
        let q = words(query);
        let mut found = BTreeSet::new();
        for (id, phrase) in &self.phrases {
            if contains_phrase(&q, phrase) {
                found.insert(id.clone());
            }
        }
        found.into_iter().collect()
    }

    /// The categories a document (an article) is mapped to.
    pub fn offences_of(&self, document_id: &str) -> Vec<String> {
        self.mapped
            .get(document_id)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    pub fn label(&self, id: &str, lang: &str) -> String {
        self.labels
            .get(id)
            .map(|l| crate::pick(l, lang).to_owned())
            .unwrap_or_else(|| id.to_owned())
    }

    pub fn ids(&self) -> impl Iterator<Item = &String> {
        self.labels.keys()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cat() -> OffenceCategory {
        serde_json::from_str(
            r#"{"id":"illegal-access","labels":{"en":"Illegal access","fr":"Accès illégal","es":"Acceso ilícito"},
            "synonyms":{"en":["unauthorised access","hacking"],"fr":["accès frauduleux"],"es":["acceso ilegítimo"]},
            "provisions":[{"country":"FR","ref":"LEGITEXT000006070719:323-1","citation":"Code pénal, art. 323-1"}]}"#,
        )
        .unwrap()
    }

    #[test]
    fn bridges_languages() {
        let t = Taxonomy::new(&[cat()]);
        assert_eq!(
            t.named_in("illegal access to a server"),
            vec!["illegal-access"]
        );
        assert_eq!(t.named_in("ACCES FRAUDULEUX"), vec!["illegal-access"]);
        assert_eq!(t.named_in("acceso ilegitimo"), vec!["illegal-access"]);
        assert!(t.named_in("illegal interception").is_empty());
        assert_eq!(
            t.offences_of("LEGITEXT000006070719:323-1"),
            vec!["illegal-access"]
        );
        assert_eq!(t.label("illegal-access", "fr"), "Accès illégal");
    }
}
