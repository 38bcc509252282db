//! Interface translations (Project Fluent), English, French and Spanish.
//! The `.ftl` files are compiled into the binary; English is the fallback
//! for a message missing elsewhere (a test keeps the three in step).

use std::collections::HashMap;
use std::sync::Arc;

use entraide_domain::Locale;
use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};

pub const SOURCES: [(Locale, &str); 3] = [
    (Locale::En, include_str!("../../locales/en/main.ftl")),
    (Locale::Fr, include_str!("../../locales/fr/main.ftl")),
    (Locale::Es, include_str!("../../locales/es/main.ftl")),
];

pub struct I18n {
    bundles: HashMap<Locale, FluentBundle<FluentResource>>,
}

impl I18n {
    pub fn load() -> Result<Self, String> {
        let mut bundles = HashMap::new();
        for (locale, source) in SOURCES {
            let resource = FluentResource::try_new(source.to_owned()).map_err(|(_, errors)| {
                format!("{locale}: {} syntax errors in main.ftl", errors.len())
            })?;
            let lang = locale
                .as_str()
                .parse()
                .map_err(|e| format!("{locale}: bad language identifier: {e}"))?;
            let mut bundle = FluentBundle::new_concurrent(vec![lang]);
            bundle.set_use_isolating(false);
            bundle
                .add_resource(resource)
                .map_err(|errors| format!("{locale}: {} duplicate messages", errors.len()))?;
            bundles.insert(locale, bundle);
        }
        Ok(Self { bundles })
    }

    pub fn message(&self, locale: Locale, id: &str, args: Option<&FluentArgs<'_>>) -> String {
        for l in [locale, Locale::En] {
            let Some(bundle) = self.bundles.get(&l) else {
                continue;
            };
            if let Some(pattern) = bundle.get_message(id).and_then(|m| m.value()) {
                let mut errors = Vec::new();
                let text = bundle.format_pattern(pattern, args, &mut errors);
                return text.into_owned();
            }
        }
        tracing::warn!(id, "missing translation");
        id.to_owned()
    }

    pub fn has(&self, locale: Locale, id: &str) -> bool {
        self.bundles.get(&locale).is_some_and(|b| b.has_message(id))
    }
}

/// The translator handed to templates: `{{ tr.t("nav-cases") }}`.
#[derive(Clone)]
pub struct Tr {
    i18n: Arc<I18n>,
    pub locale: Locale,
}

impl Tr {
    pub fn new(i18n: Arc<I18n>, locale: Locale) -> Self {
        Self { i18n, locale }
    }

    pub fn t(&self, id: &str) -> String {
        self.i18n.message(self.locale, id, None)
    }

    /// A message with one variable: `{{ tr.t1("welcome", "name", user) }}`.
    pub fn t1(&self, id: &str, name: &str, value: &str) -> String {
        let mut args = FluentArgs::new();
        args.set(name.to_owned(), FluentValue::from(value.to_owned()));
        self.i18n.message(self.locale, id, Some(&args))
    }

    /// A message with several string variables.
    pub fn t_args(&self, id: &str, values: &[(&str, String)]) -> String {
        let mut args = FluentArgs::new();
        for (name, value) in values {
            args.set((*name).to_owned(), FluentValue::from(value.clone()));
        }
        self.i18n.message(self.locale, id, Some(&args))
    }

    /// A message with a number (plural forms).
    pub fn tn(&self, id: &str, name: &str, value: i64) -> String {
        let mut args = FluentArgs::new();
        args.set(name.to_owned(), FluentValue::from(value));
        self.i18n.message(self.locale, id, Some(&args))
    }

    /// Translates a stable error code, falling back to `fallback`.
    pub fn error(&self, code: &str, fallback: &str) -> String {
        let id = format!("error-{}", code.replace('_', "-"));
        if self.i18n.has(self.locale, &id) || self.i18n.has(Locale::En, &id) {
            self.t(&id)
        } else {
            fallback.to_owned()
        }
    }

    /// Whether a message exists (in this language or in English).
    pub fn has(&self, id: &str) -> bool {
        self.i18n.has(self.locale, id) || self.i18n.has(Locale::En, id)
    }

    pub fn lang(&self) -> &'static str {
        self.locale.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn ids(source: &str) -> BTreeSet<String> {
        source
            .lines()
            .filter(|l| l.chars().next().is_some_and(|c| c.is_ascii_lowercase()))
            .filter_map(|l| l.split_once(" =").map(|(id, _)| id.trim().to_owned()))
            .collect()
    }

    #[test]
    fn all_languages_load_and_have_the_same_messages() {
        let i18n = I18n::load().unwrap();
        let en = ids(SOURCES[0].1);
        assert!(en.len() > 50);
        for (locale, source) in SOURCES {
            let other = ids(source);
            let missing: Vec<_> = en.difference(&other).collect();
            let extra: Vec<_> = other.difference(&en).collect();
            assert!(
                missing.is_empty() && extra.is_empty(),
                "{locale}: missing {missing:?}, extra {extra:?}"
            );
            for id in &en {
                assert!(i18n.has(locale, id), "{locale} cannot format {id}");
            }
        }
    }

    #[test]
    fn every_message_used_by_templates_exists() {
        let en = ids(SOURCES[0].1);
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        let mut used = BTreeSet::new();
        // One folder of templates per feature.
        let files = std::fs::read_dir(&dir)
            .unwrap()
            .flat_map(|folder| std::fs::read_dir(folder.unwrap().path()).unwrap());
        for entry in files {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            for call in ["tr.t(\"", "tr.t1(\"", "tr.tn(\""] {
                for part in text.split(call).skip(1) {
                    if let Some((id, _)) = part.split_once('"') {
                        used.insert(id.to_owned());
                    }
                }
            }
        }
        let missing: Vec<_> = used.difference(&en).collect();
        assert!(
            missing.is_empty(),
            "templates use unknown messages: {missing:?}"
        );
    }

    #[test]
    fn evidence_messages_exist_in_every_language() {
        let i18n = I18n::load().unwrap();
        let mut ids: Vec<String> = entraide_evidence::MESSAGES
            .iter()
            .map(|(id, _)| format!("ev-msg-{id}"))
            .collect();
        ids.extend(crate::evidence::pages::kind_message_ids());
        ids.extend(
            crate::evidence::pages::DETAIL_KEYS
                .iter()
                .map(|k| format!("ev-detail-{}", k.replace('_', "-"))),
        );
        for code in [
            "package_readable",
            "manifest_present",
            "manifest_format",
            "signing_key",
            "manifest_signature",
            "unlisted_member",
            "document_hash",
            "file_hash",
            "custody_format",
            "tree_head_signature",
            "event_inclusion",
            "item_custody",
            "consistency",
            "seen_heads",
        ] {
            ids.push(format!("ev-check-{}", code.replace('_', "-")));
        }
        for s in entraide_domain::evidence::EvidenceSource::ALL {
            ids.push(format!("ev-source-{}", s.as_str().replace('_', "-")));
        }
        for locale in [Locale::En, Locale::Fr, Locale::Es] {
            for id in &ids {
                assert!(i18n.has(locale, id), "{locale:?} lacks {id}");
            }
        }
    }

    #[test]
    fn french_and_spanish_really_differ_from_english() {
        let i18n = Arc::new(I18n::load().unwrap());
        let en = Tr::new(i18n.clone(), Locale::En).t("nav-cases");
        assert_ne!(Tr::new(i18n.clone(), Locale::Fr).t("nav-cases"), en);
        assert_ne!(Tr::new(i18n, Locale::Es).t("sign-in-title"), "Sign in");
    }
}
