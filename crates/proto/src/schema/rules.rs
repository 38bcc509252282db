//! Schemas of values the node reads with rules of its own (trimming,
//! control characters, an empty query value meaning "any"): each says in
//! JSON Schema exactly what the node takes, so that a client, and the
//! Schemathesis run in CI, can tell a valid value from an invalid one
//! without the Rust source. Used with `#[schema(schema_with = ...)]` and
//! `#[param(schema_with = ...)]`.

use serde_json::json;
use utoipa::openapi::schema::{
    AnyOfBuilder, KnownFormat, ObjectBuilder, SchemaFormat, SchemaType, Type,
};
use utoipa::openapi::{RefOr, Schema};
use utoipa::ToSchema;

use super::{reference_to, text};

// ------------------------------------------------------------ text rules

/// The characters `str::trim` removes (Unicode `White_Space`), for a
/// class of a pattern: values the node trims before reading them.
/// ECMAScript's `\s` differs (it has U+FEFF and lacks U+0085).
const TRIMMED_CHARS: &str =
    r"\t\n\x0B\x0C\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000";
/// Control characters (`char::is_control`: Unicode Cc).
const CONTROL_CHARS: &str = r"\x00-\x1F\x7F-\x9F";
/// Control characters but line breaks and tabs.
const CONTROL_BUT_LINES: &str = r"\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F";

/// One line of text as the domain's `clean_text` takes it (a case title, a
/// display name, a token name): blanks around are dropped, then it must
/// be 1 to `MAX` characters with no control character. For
/// `#[schema(schema_with = one_line::<MAX>)]`.
pub fn one_line<const MAX: usize>() -> RefOr<Schema> {
    let (t, c) = (TRIMMED_CHARS, CONTROL_CHARS);
    let inner = MAX.saturating_sub(2);
    text(&format!(
        "1 to {MAX} characters once blanks around are dropped; no control characters."
    ))
    .pattern(Some(format!(
        "^[{t}]*[^{t}{c}]([^{c}]{{0,{inner}}}[^{t}{c}])?[{t}]*$"
    )))
    .into()
}

/// Like [`one_line`], but blank or `null` means none (an optional label).
pub fn optional_one_line<const MAX: usize>() -> RefOr<Schema> {
    let (t, c) = (TRIMMED_CHARS, CONTROL_CHARS);
    let inner = MAX.saturating_sub(2);
    ObjectBuilder::new()
        .schema_type(
            [Type::String, Type::Null]
                .into_iter()
                .collect::<SchemaType>(),
        )
        .description(Some(format!(
            "Up to {MAX} characters once blanks around are dropped; no control characters. \
             Blank or `null`: none."
        )))
        .pattern(Some(format!(
            "^[{t}]*([^{t}{c}]([^{c}]{{0,{inner}}}[^{t}{c}])?[{t}]*)?$"
        )))
        .into()
}

/// Text that must not be blank, with no control character but line
/// breaks and tabs, up to `MAX` characters (an evidence description; the
/// length here is the whole value's).
pub fn paragraphs<const MAX: usize>() -> RefOr<Schema> {
    let (t, c) = (TRIMMED_CHARS, CONTROL_BUT_LINES);
    text(&format!(
        "1 to {MAX} characters, not only blanks; line breaks and tabs but no other control characters."
    ))
    .max_length(Some(MAX))
    .pattern(Some(format!("^[{t}]*[^{t}{c}]([^{c}]*[^{t}{c}])?[{t}]*$")))
    .into()
}

/// Text that may be blank (then it counts as absent) or else has no
/// control character but line breaks and tabs, up to `MAX` characters (a
/// case summary; the length here is the whole value's, blanks around
/// included, where the node counts without them).
pub fn optional_paragraphs<const MAX: usize>() -> RefOr<Schema> {
    let (t, c) = (TRIMMED_CHARS, CONTROL_BUT_LINES);
    text(&format!(
        "Up to {MAX} characters; line breaks and tabs but no other control characters. Blank: none."
    ))
    .max_length(Some(MAX))
    .pattern(Some(format!(
        "^[{t}]*([^{t}{c}]([^{c}]*[^{t}{c}])?[{t}]*)?$"
    )))
    .into()
}

/// Any text that is not blank, up to `MAX` characters (a note to a peer;
/// the length here is the whole value's).
pub fn not_blank<const MAX: usize>() -> RefOr<Schema> {
    text(&format!("1 to {MAX} characters, not only blanks."))
        .min_length(Some(1))
        .max_length(Some(MAX))
        .pattern(Some(format!("[^{TRIMMED_CHARS}]")))
        .into()
}

/// A case reference as `CaseReference::parse` takes it: up to 64 letters,
/// digits and `- / . _`, blanks around dropped.
pub fn case_reference() -> RefOr<Schema> {
    text("National case or file number: up to 64 letters, digits and `- / . _`.")
        .pattern(Some(format!(
            "^[{t}]*[A-Za-z0-9./_-]{{1,64}}[{t}]*$",
            t = TRIMMED_CHARS
        )))
        .examples([json!("PC247-2026-0117")])
        .into()
}

/// An e-mail address (in any case; stored in lower case).
pub fn email_address() -> RefOr<Schema> {
    text("E-mail address (stored in lower case).")
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Email)))
        .max_length(Some(254))
        .into()
}

// ------------------------------------------------------------ query filters

/// A query filter over an enumeration: one of its values, or empty (what
/// a form sends for "any", taken as no filter). For
/// `#[param(schema_with = filter_of::<...>)]`.
pub fn filter_of<T: ToSchema>() -> RefOr<Schema> {
    AnyOfBuilder::new()
        .item(reference_to::<T>())
        .item(text("Empty: no filter.").max_length(Some(0)))
        .into()
}

/// A bound of a period in a query: a date (`2026-11-25`) or an RFC 3339
/// time, or empty (the default bound). For
/// `#[param(schema_with = period_bound)]`.
pub fn period_bound() -> RefOr<Schema> {
    AnyOfBuilder::new()
        .description(Some(
            "A date (`2026-11-25`) or an RFC 3339 time (`2026-11-25T09:30:00Z`); empty: the default.",
        ))
        .item(text("RFC 3339 time.").format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))))
        .item(text("Date.").format(Some(SchemaFormat::KnownFormat(KnownFormat::Date))))
        .item(text("Empty: the default.").max_length(Some(0)))
        .into()
}

/// A UUID in a query, or empty (no filter). For
/// `#[param(schema_with = uuid_or_empty)]`.
pub fn uuid_or_empty() -> RefOr<Schema> {
    AnyOfBuilder::new()
        .item(text("UUID.").format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid))))
        .item(text("Empty: no filter.").max_length(Some(0)))
        .into()
}

/// A document language as `Locale::parse` reads it: `en`, `fr` or `es` in
/// any case, possibly followed by a region (`fr-BE`, `es_AR`), blanks
/// around; empty means the default. For
/// `#[param(schema_with = document_language)]`.
pub fn document_language() -> RefOr<Schema> {
    text(
        "`en`, `fr` or `es` (`fr-BE`, `es_AR` are read as `fr`, `es`); empty or absent: the \
         language the requested country accepts.",
    )
    .pattern(Some(format!(
        "^([{t}]*([Ee][Nn]|[Ff][Rr]|[Ee][Ss])([-_][\\s\\S]*)?[{t}]*)?$",
        t = TRIMMED_CHARS
    )))
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use entraide_domain::evidence::{parse_description, parse_exhibit_number, parse_optional};
    use entraide_domain::{CaseReference, CaseSummary, CaseTitle, DisplayName, Locale};
    use proptest::prelude::*;
    use regex::Regex;

    /// The schema's `pattern`, compiled as a validator would.
    fn pattern(schema: RefOr<Schema>) -> Regex {
        let json = serde_json::to_value(schema).unwrap_or_default();
        let text = json["pattern"].as_str().unwrap_or_default().to_owned();
        Regex::new(&text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    /// Characters where the rules differ: blanks `trim` drops (and U+FEFF,
    /// which it keeps), control characters, letters, the reference's
    /// punctuation.
    fn tricky() -> impl Strategy<Value = String> {
        let chars = prop_oneof![
            3 => prop::sample::select(vec![
                ' ', '\t', '\n', '\r', '\u{0B}', '\u{0C}', '\u{85}', '\u{A0}', '\u{1680}',
                '\u{2000}', '\u{2028}', '\u{3000}', '\u{FEFF}', '\u{0}', '\u{1B}', '\u{7F}',
                '\u{9F}', 'a', 'Z', '0', '-', '/', '.', '_', 'é', '中', ':', '😀',
            ]),
            1 => any::<char>(),
        ];
        prop::collection::vec(chars, 0..8).prop_map(|v| v.into_iter().collect())
    }

    proptest! {
        #[test]
        fn one_line_is_the_domains_rule(s in tricky()) {
            prop_assert_eq!(pattern(one_line::<200>()).is_match(&s), CaseTitle::parse(&s).is_ok(), "{:?}", s);
            prop_assert_eq!(pattern(one_line::<120>()).is_match(&s), DisplayName::parse(&s).is_ok(), "{:?}", s);
        }

        #[test]
        fn optional_one_line_is_the_domains_rule(s in tricky()) {
            prop_assert_eq!(
                pattern(optional_one_line::<300>()).is_match(&s),
                parse_optional(&s, "place").is_ok(),
                "{:?}", s
            );
            let exhibit = s.trim().is_empty() || parse_exhibit_number(&s).is_ok();
            prop_assert_eq!(pattern(optional_one_line::<64>()).is_match(&s), exhibit, "{:?}", s);
        }

        #[test]
        fn paragraphs_are_the_domains_rule(s in tricky()) {
            prop_assert_eq!(pattern(paragraphs::<2000>()).is_match(&s), parse_description(&s).is_ok(), "{:?}", s);
            prop_assert_eq!(
                pattern(optional_paragraphs::<10000>()).is_match(&s),
                CaseSummary::parse(&s).is_ok(),
                "{:?}", s
            );
        }

        #[test]
        fn a_case_reference_is_the_domains_rule(s in tricky()) {
            prop_assert_eq!(pattern(case_reference()).is_match(&s), CaseReference::parse(&s).is_ok(), "{:?}", s);
        }

        #[test]
        fn a_document_language_is_what_locale_parse_reads(s in tricky(), lang in prop::sample::select(vec!["en", "FR", "Es", "de", ""])) {
            for candidate in [s.clone(), format!("{lang}{s}"), format!("{s}{lang}-BE"), format!(" {lang}_{s}")] {
                let taken = candidate.is_empty() || Locale::parse(&candidate).is_some();
                prop_assert_eq!(pattern(document_language()).is_match(&candidate), taken, "{:?}", candidate);
            }
        }
    }

    /// The lengths count once blanks around are dropped.
    #[test]
    fn lengths_are_counted_without_the_blanks_around() {
        let title = pattern(one_line::<200>());
        let long = "é".repeat(200);
        assert!(title.is_match(&format!("  {long}\t")));
        assert!(!title.is_match(&format!("{long}x")));
        let reference = pattern(case_reference());
        assert!(reference.is_match(&format!(" {} ", "A".repeat(64))));
        assert!(!reference.is_match(&"A".repeat(65)));
        assert!(CaseReference::parse(&"A".repeat(65)).is_err());
    }
}
