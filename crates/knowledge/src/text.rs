//! Small text helpers shared by the importer and the taxonomy.

/// Lower case without accents ("Accès" → "acces"), for matching phrases
/// typed without them.
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().flat_map(char::to_lowercase) {
        match c {
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => out.push('a'),
            'ç' => out.push('c'),
            'è' | 'é' | 'ê' | 'ë' => out.push('e'),
            'ì' | 'í' | 'î' | 'ï' => out.push('i'),
            'ñ' => out.push('n'),
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' => out.push('o'),
            'ù' | 'ú' | 'û' | 'ü' => out.push('u'),
            'ý' | 'ÿ' => out.push('y'),
            'œ' => out.push_str("oe"),
            'æ' => out.push_str("ae"),
            'ß' => out.push_str("ss"),
            '’' | '\'' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// The words of `s`, folded: letters and digits, everything else a break.
pub fn words(s: &str) -> Vec<String> {
    fold(s)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Whether the words of `phrase` occur one after the other in `haystack`
/// (both already split by [`words`]).
pub fn contains_phrase(haystack: &[String], phrase: &[String]) -> bool {
    !phrase.is_empty() && haystack.windows(phrase.len()).any(|w| w == phrase)
}

/// The first `max` characters of `s` at a word boundary, with "…" when cut.
pub fn excerpt(s: &str, max: usize) -> String {
    let flat: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max {
        return flat;
    }
    let cut: String = flat.chars().take(max).collect();
    let cut = match cut.rfind(' ') {
        Some(i) if i > max / 2 => cut[..i].to_owned(),
        _ => cut,
    };
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_accents() {
        assert_eq!(
            fold("Accès FRAUDULEUX à un système"),
            "acces frauduleux a un systeme"
        );
        assert_eq!(words("l'accès ilegítimo"), vec!["l", "acces", "ilegitimo"]);
        assert!(contains_phrase(
            &words("un accès frauduleux"),
            &words("acces frauduleux")
        ));
        assert!(!contains_phrase(
            &words("accès non frauduleux"),
            &words("acces frauduleux")
        ));
    }

    #[test]
    fn excerpts() {
        assert_eq!(excerpt("a  b\nc", 10), "a b c");
        assert_eq!(excerpt("one two three four", 10), "one two…");
    }
}
