//! Legislation as Markdown with YAML front matter, split into article- or
//! section-level documents.
//!
//! Real files differ (see `shared/corpus/README.md`), so articles are
//! recognised from what they say rather than from heading levels:
//! - a heading or a whole line `Article 323-1`, `Artikel 2`, `§ 1030. Title`,
//!   a bold `**ARTICULO 153 BIS.** - text` at the start of a line, or a
//!   heading that is only a section number (`##### 1`, `##### 3ZA`);
//! - divisions from their first word (Partie, Livre, Titre, Chapitre,
//!   Section, Part, Chapter, Libro, Título, Capítulo, Hoofdstuk...), ranked
//!   so that a chapter closes the previous chapter but not its title,
//!   whatever the heading level;
//! - a heading right after an article marker (before any text) is the
//!   article's title; headings right before a bare section number are that
//!   section's title;
//! - headings that begin with a lower-case letter are wrapped sentences,
//!   not divisions or articles (upstream conversion errors);
//! - a file without front matter that switches to another language's
//!   keywords (an English treaty followed by its Dutch translation) becomes
//!   one instrument per language.

use time::Date;

use crate::frontmatter::{self, FrontMatter};
use crate::model::{article_slug, ContentType, Document, Jurisdiction, LangText};
use crate::{ImportError, ImportWarning};

/// An instrument and its articles, in order.
#[derive(Debug, Clone)]
pub struct ParsedInstrument {
    pub instrument: Document,
    pub articles: Vec<Document>,
}

/// Everything read from one file.
#[derive(Debug, Clone)]
pub struct ParsedFile {
    pub instruments: Vec<ParsedInstrument>,
    pub warnings: Vec<ImportWarning>,
}

/// The language family of a division or article keyword, used to notice
/// a translation following the original in the same file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Dutch,
    Spanish,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Marker {
    /// As the text should print it ("Article", "Artículo", "§", "Section").
    keyword: &'static str,
    number: String,
    /// Text after the number: a title (headings) or the start of the text.
    rest: String,
    rest_is_text: bool,
    family: Option<Family>,
}

const ORDINALS: [&str; 16] = [
    "bis",
    "ter",
    "quater",
    "quinquies",
    "sexies",
    "septies",
    "octies",
    "nonies",
    "novies",
    "decies",
    "undecies",
    "duodecies",
    "terdecies",
    "quaterdecies",
    "quindecies",
    "sexdecies",
];

const WORD_NUMBERS: [&str; 8] = [
    "premier",
    "unique",
    "liminaire",
    "préliminaire",
    "1er",
    "primero",
    "único",
    "unico",
];

/// `(keyword as written, printed form, family)`; case-sensitive so that a
/// wrapped sentence ("artículo 86.") is not taken for an article.
const ARTICLE_KEYWORDS: [(&str, &str, Option<Family>); 12] = [
    ("Article", "Article", None),
    ("ARTICLE", "Article", None),
    ("Art.", "Art.", None),
    ("Artikel", "Artikel", Some(Family::Dutch)),
    ("ARTIKEL", "Artikel", Some(Family::Dutch)),
    ("Artículo", "Artículo", Some(Family::Spanish)),
    ("ARTÍCULO", "Artículo", Some(Family::Spanish)),
    ("ARTICULO", "Artículo", Some(Family::Spanish)),
    ("Articulo", "Artículo", Some(Family::Spanish)),
    ("Art\u{ed}culo", "Artículo", Some(Family::Spanish)),
    ("§", "§", None),
    ("Sec.", "Section", None),
];

/// Division keywords (folded, lower case) with their usual rank: a
/// division closes every open division of the same or a lower rank.
const DIVISIONS: [(&str, u8, Family); 27] = [
    ("partie", 1, Family::Other),
    ("part", 1, Family::Other),
    ("deel", 1, Family::Dutch),
    ("livre", 2, Family::Other),
    ("book", 2, Family::Other),
    ("libro", 2, Family::Spanish),
    ("annexe", 2, Family::Other),
    ("annex", 2, Family::Other),
    ("anexo", 2, Family::Spanish),
    ("schedule", 2, Family::Other),
    ("bijlage", 2, Family::Dutch),
    ("titre", 3, Family::Other),
    ("title", 3, Family::Other),
    ("titulo", 3, Family::Spanish),
    ("titel", 3, Family::Dutch),
    ("chapitre", 4, Family::Other),
    ("chapter", 4, Family::Other),
    ("capitulo", 4, Family::Spanish),
    ("hoofdstuk", 4, Family::Dutch),
    ("section", 5, Family::Other),
    ("seccion", 5, Family::Spanish),
    ("afdeling", 5, Family::Dutch),
    ("sous-section", 6, Family::Other),
    ("paragraphe", 7, Family::Other),
    ("paragraaf", 7, Family::Dutch),
    ("sous-paragraphe", 8, Family::Other),
    ("subsection", 6, Family::Other),
];

/// Removes Markdown emphasis and links and squeezes spaces.
fn clean(s: &str) -> String {
    let s = s.replace("**", "");
    let mut out = String::with_capacity(s.len());
    let mut rest = s.as_str();
    // [text](target) → text
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        match after.find("](") {
            Some(close) if !after[..close].contains('[') => {
                let tail = &after[close + 2..];
                match tail.find(')') {
                    Some(end) => {
                        out.push_str(&rest[..open]);
                        out.push_str(&after[..close]);
                        rest = &tail[end + 1..];
                    }
                    None => break,
                }
            }
            _ => {
                out.push_str(&rest[..=open]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `(level, text)` of a Markdown heading (with or without a space after
/// the hashes).
fn heading(line: &str) -> Option<(usize, String)> {
    let t = line.trim_start();
    let level = t.chars().take_while(|&c| c == '#').count();
    if level == 0 || level > 6 {
        return None;
    }
    let text = clean(t[level..].trim());
    (!text.is_empty()).then_some((level, text))
}

fn starts_lowercase(s: &str) -> bool {
    s.chars()
        .find(|c| c.is_alphanumeric())
        .is_some_and(char::is_lowercase)
}

/// Reads an article marker at the start of `s`.
fn article_marker(s: &str, rest_is_text: bool) -> Option<Marker> {
    let (printed, family, after) = ARTICLE_KEYWORDS.iter().find_map(|(kw, printed, family)| {
        let after = s.strip_prefix(kw)?;
        // "Articles 1 to 3" or "Article-like" words are not markers.
        let next = after.chars().next()?;
        (next.is_whitespace() || *kw == "§").then_some((*printed, *family, after.trim_start()))
    })?;
    let mut tokens = after.split_whitespace().peekable();
    let first = tokens.next()?;
    let mut number = first.split(['—', '–']).next().unwrap_or(first).to_owned();
    let mut consumed = 1;
    // "L. 34-1", "D. 8": a letter prefix with a dot, then the number.
    if !number.chars().any(|c| c.is_ascii_digit()) {
        let is_prefix = number.len() <= 3
            && number.ends_with('.')
            && number[..number.len() - 1]
                .chars()
                .all(|c| c.is_ascii_uppercase());
        let is_word = WORD_NUMBERS
            .iter()
            .any(|w| number.trim_end_matches(['.', ':']).eq_ignore_ascii_case(w));
        if is_prefix {
            let next = tokens.next()?;
            if !next.chars().any(|c| c.is_ascii_digit()) {
                return None;
            }
            number = format!("{number} {next}");
            consumed += 1;
        } else if !is_word {
            return None;
        }
    }
    if !number.chars().next().is_some_and(|c| c.is_alphanumeric()) {
        return None;
    }
    while let Some(t) = tokens.peek() {
        let bare = t.trim_end_matches(['.', ',', ':', '-', '—']).to_lowercase();
        if ORDINALS.contains(&bare.as_str()) {
            number.push(' ');
            number.push_str(t.trim_end_matches(['.', ',', ':', '-', '—']));
            tokens.next();
            consumed += 1;
        } else {
            break;
        }
    }
    let number = number
        .trim_end_matches(['.', ',', ':', '-', '\u{ba}', '\u{b0}'])
        .to_owned();
    if number.is_empty() {
        return None;
    }
    let rest: Vec<&str> = after.split_whitespace().skip(consumed).collect();
    let mut rest = rest.join(" ");
    // What followed the number inside the first token ("1º—Texto").
    if let Some((_, tail)) = first.split_once(['—', '–']) {
        rest = format!("{tail} {rest}");
    }
    let rest = rest
        .trim_start_matches(|c: char| c.is_whitespace() || "-—–.:".contains(c))
        .trim()
        .to_owned();
    Some(Marker {
        keyword: printed,
        number,
        rest,
        rest_is_text: rest_is_text || family == Some(Family::Spanish),
        family,
    })
}

/// A heading that is only a section number ("1", "3ZA", "12").
fn section_number(s: &str) -> Option<Marker> {
    let digits = s.chars().take_while(char::is_ascii_digit).count();
    let tail = &s[digits..];
    (digits > 0 && digits <= 4 && tail.len() <= 3 && tail.chars().all(|c| c.is_ascii_uppercase()))
        .then(|| Marker {
            keyword: "Section",
            number: s.to_owned(),
            rest: String::new(),
            rest_is_text: false,
            family: None,
        })
}

/// A bold article marker at the start of a line: `**ARTICULO 153.** - Text`.
fn bold_marker(line: &str) -> Option<Marker> {
    let t = line.trim_start().strip_prefix("**")?;
    let end = t.find("**")?;
    let inner = t[..end].trim();
    let mut m = article_marker(inner, true)?;
    let after = clean(&t[end + 2..]);
    let after = after
        .trim_start_matches(|c: char| c.is_whitespace() || "-—–.:".contains(c))
        .trim();
    if !after.is_empty() {
        m.rest = if m.rest.is_empty() {
            after.to_owned()
        } else {
            format!("{} {after}", m.rest)
        };
    }
    m.rest_is_text = true;
    Some(m)
}

/// A division heading: `(keyword, family)`.
fn division(s: &str) -> Option<(&'static str, Family)> {
    let first = s.split(|c: char| c.is_whitespace() || c == ':').next()?;
    let folded = crate::text::fold(first);
    DIVISIONS
        .iter()
        .find(|(kw, _, _)| *kw == folded)
        .map(|(kw, _, family)| (*kw, *family))
}

fn family_of(m: &Marker) -> Option<Family> {
    m.family
}

struct Article {
    line: usize,
    marker: Marker,
    title: Option<String>,
    path: Vec<String>,
    paragraphs: Vec<String>,
    /// Indexes of paragraphs that were headings in the file.
    headings: Vec<usize>,
}

impl Article {
    fn has_text(&self) -> bool {
        self.paragraphs.iter().any(|p| !p.is_empty())
    }
}

/// One instrument being read.
struct Part {
    identifier: String,
    title: Option<String>,
    language: String,
    family: Option<Family>,
    preamble: Vec<String>,
    articles: Vec<Article>,
}

/// Appends a paragraph, joining pieces of a sentence hard-wrapped across
/// blank lines (a piece that starts in lower case after one that does not
/// end a sentence).
fn push_paragraph(paragraphs: &mut Vec<String>, text: &str) {
    if text.is_empty() {
        return;
    }
    if let Some(last) = paragraphs.last_mut() {
        let ends_list_intro = last.chars().last().is_some_and(|c| ":;".contains(c));
        if !ends_list_intro && starts_lowercase(text) && !is_enumeration(text) {
            last.push(' ');
            last.push_str(text);
            return;
        }
    }
    paragraphs.push(text.to_owned());
}

/// "a) ...", "(ii) ...", "iv. ...": an item of a list, not a wrapped line.
fn is_enumeration(text: &str) -> bool {
    let t = text.trim_start_matches('(');
    let head: String = t.chars().take_while(|c| c.is_alphanumeric()).collect();
    !head.is_empty() && head.chars().count() <= 4 && t[head.len()..].starts_with([')', '.'])
}

struct Reader<'a> {
    fm: &'a FrontMatter,
    parts: Vec<Part>,
    /// Open divisions: (rank, label).
    divisions: Vec<(u8, String)>,
    /// The rank learnt for each division keyword.
    ranks: std::collections::HashMap<&'static str, u8>,
    /// Headings seen since the last text or marker: (line, level, text).
    pending: Vec<(usize, usize, String)>,
    /// The current paragraph's lines.
    paragraph: Vec<String>,
    /// Whether the last thing seen was a division heading with no title yet.
    division_open: bool,
    warnings: Vec<ImportWarning>,
}

impl Reader<'_> {
    fn part(&mut self) -> &mut Part {
        // There is always at least one part.
        let last = self.parts.len() - 1;
        &mut self.parts[last]
    }

    fn flush_paragraph(&mut self) {
        if self.paragraph.is_empty() {
            return;
        }
        let text = self.paragraph.join(" ");
        self.paragraph.clear();
        let part = self.part();
        match part.articles.last_mut() {
            Some(a) => push_paragraph(&mut a.paragraphs, &text),
            None => push_paragraph(&mut part.preamble, &text),
        }
    }

    fn push_division(&mut self, rank: u8, label: String) {
        while self.divisions.last().is_some_and(|(r, _)| *r >= rank) {
            self.divisions.pop();
        }
        self.divisions.push((rank, label));
    }

    /// Pending headings become divisions of their own (ranked by level,
    /// below every keyword division).
    fn pending_as_divisions(&mut self) {
        for (_, level, text) in std::mem::take(&mut self.pending) {
            self.push_division(10 + level as u8, text);
        }
    }

    /// Pending headings become paragraphs of the current article (notes
    /// under a section), or divisions before the first article.
    fn pending_as_text(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        let no_title = self.fm.text("title").is_none() && self.part().title.is_none();
        let in_article = !self.part().articles.is_empty();
        let count = pending.len();
        for (i, (_, level, text)) in pending.into_iter().enumerate() {
            if in_article {
                if let Some(a) = self.part().articles.last_mut() {
                    a.headings.push(a.paragraphs.len());
                    a.paragraphs.push(text);
                }
            } else if no_title && i + 1 == count {
                self.part().title = Some(text);
            } else {
                self.push_division(10 + level as u8, text);
            }
        }
    }

    fn start_part_if_switching(&mut self, family: Option<Family>) -> bool {
        let Some(family) = family else { return false };
        if !self.fm.fields.is_empty() {
            return false;
        }
        let part = self.part();
        match part.family {
            None => {
                part.family = Some(family);
                return false;
            }
            Some(f) if f == family || part.articles.is_empty() => return false,
            Some(_) => {}
        }
        let base = self.parts[0].identifier.clone();
        let language = match family {
            Family::Dutch => "nl",
            Family::Spanish => "es",
            Family::Other => "en",
        };
        // The heading just before is the translation's title; if text
        // followed it, it was taken for the end of the last article:
        // heading and text move to the translation.
        let mut title = self.pending.pop().map(|(_, _, t)| t);
        self.pending.clear();
        let mut preamble = Vec::new();
        if title.is_none() {
            if let Some(a) = self.part().articles.last_mut() {
                if let Some(at) = a.headings.pop() {
                    let mut moved = a.paragraphs.split_off(at);
                    if !moved.is_empty() {
                        title = Some(moved.remove(0));
                        preamble = moved;
                    }
                }
            }
        }
        self.divisions.clear();
        self.parts.push(Part {
            identifier: format!("{base}-{language}"),
            title,
            language: language.to_owned(),
            family: Some(family),
            preamble,
            articles: Vec::new(),
        });
        true
    }

    fn marker(&mut self, line: usize, m: Marker) {
        self.flush_paragraph();
        self.start_part_if_switching(family_of(&m));
        let mut title = None;
        if m.keyword == "Section" && !self.pending.is_empty() {
            // `#### Unauthorised access` then `##### 1`: the section's title.
            title = self.pending.pop().map(|(_, _, t)| t);
        }
        self.pending_as_divisions();
        let mut paragraphs = Vec::new();
        if m.rest_is_text {
            push_paragraph(&mut paragraphs, &m.rest);
        } else if !m.rest.is_empty() {
            title = Some(m.rest.clone());
        }
        let path = self.divisions.iter().map(|(_, l)| l.clone()).collect();
        self.division_open = false;
        self.part().articles.push(Article {
            line,
            marker: m,
            title,
            path,
            paragraphs,
            headings: Vec::new(),
        });
    }

    /// The usual nesting (Partie > Livre > Titre > Chapitre > Section...),
    /// except that a title first met inside a section ranks below it for
    /// the rest of the document (Council of Europe treaties nest Chapter >
    /// Section > Title).
    fn rank_of(&mut self, keyword: &'static str) -> u8 {
        if let Some(r) = self.ranks.get(keyword) {
            return *r;
        }
        let usual = DIVISIONS
            .iter()
            .find(|(k, _, _)| *k == keyword)
            .map(|(_, r, _)| *r)
            .unwrap_or(9);
        let open_section = self
            .divisions
            .iter()
            .rev()
            .find(|(r, _)| (5..10).contains(r))
            .map(|(r, _)| *r);
        let rank = match open_section {
            Some(section) if usual == 3 => section + 1,
            _ => usual,
        };
        self.ranks.insert(keyword, rank);
        rank
    }

    fn division_heading(&mut self, text: String, keyword: &'static str, family: Family) {
        self.flush_paragraph();
        if self.start_part_if_switching(Some(family)) {
            self.ranks.clear();
        } else {
            self.pending_as_text();
        }
        let rank = self.rank_of(keyword);
        self.push_division(rank, text);
        self.division_open = true;
        self.close_article();
    }

    /// Ends the current article: text before the next article collects in
    /// a placeholder (no keyword) that is kept with the instrument's text.
    fn close_article(&mut self) {
        let path: Vec<String> = self.divisions.iter().map(|(_, l)| l.clone()).collect();
        let part = self.part();
        if part
            .articles
            .last()
            .is_some_and(|a| !a.marker.keyword.is_empty() || a.has_text())
        {
            part.articles.push(Article {
                line: 0,
                marker: Marker {
                    keyword: "",
                    number: String::new(),
                    rest: String::new(),
                    rest_is_text: false,
                    family: None,
                },
                title: None,
                path,
                paragraphs: Vec::new(),
                headings: Vec::new(),
            });
        } else if let Some(a) = part.articles.last_mut() {
            // Already a placeholder: it now stands under the new division.
            if !a.has_text() {
                a.path = path;
            }
        }
    }

    fn free_heading(&mut self, line: usize, level: usize, text: String) {
        self.flush_paragraph();
        if self.division_open {
            // `### CHAPTER I` then `####USE OF TERMS`: one label.
            if let Some((_, label)) = self.divisions.last_mut() {
                label.push_str(" — ");
                label.push_str(&text);
            }
            self.division_open = false;
            return;
        }
        if let Some(a) = self.part().articles.last_mut() {
            if !a.marker.keyword.is_empty() && a.title.is_none() && !a.has_text() {
                // `#### Article 1` then `##### Subject matter`.
                a.title = Some(text);
                return;
            }
        }
        self.pending.push((line, level, text));
    }

    fn text_line(&mut self, line: &str) {
        if !self.pending.is_empty() {
            self.flush_paragraph();
            self.pending_as_text();
        }
        self.division_open = false;
        let t = clean(line);
        if !t.is_empty() {
            self.paragraph.push(t);
        }
    }
}

fn parse_date(s: Option<&str>) -> Option<Date> {
    let s = s?;
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(s.get(..10)?, &format)
        .ok()
        .filter(|d| d.year() > 1900)
}

fn default_language(j: &Jurisdiction) -> &'static str {
    match j.code().as_str() {
        "FR" | "BE" | "LU" | "MC" | "SN" | "CI" | "ML" | "NE" | "BF" | "TG" | "BJ" | "CM"
        | "MA" | "TN" | "DZ" | "HT" => "fr",
        "AR" | "ES" | "MX" | "CO" | "CL" | "PE" | "UY" | "PY" | "BO" | "EC" | "VE" | "CR"
        | "PA" | "DO" | "GT" | "HN" | "SV" | "NI" | "CU" => "es",
        "NL" => "nl",
        "BR" | "PT" => "pt",
        "DE" | "AT" => "de",
        _ => "en",
    }
}

/// Reads one legislation file. `file` names it in messages; `stem` (the
/// file name without extension) identifies it when it has no front matter.
pub fn parse(file: &str, stem: &str, text: &str) -> Result<ParsedFile, ImportError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let fm = frontmatter::parse(file, text)?;
    let has_fm = !fm.fields.is_empty();
    let (identifier, jurisdiction) = if has_fm {
        let id = fm
            .text("identifier")
            .ok_or_else(|| ImportError::new(file, 1, "front matter has no `identifier`"))?;
        if !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            || id.len() > 100
        {
            return Err(ImportError::new(
                file,
                fm.line_of("identifier"),
                format!("identifier `{id}` may hold only letters, digits, '-', '_' and '.'"),
            ));
        }
        let country = fm
            .text("country")
            .ok_or_else(|| ImportError::new(file, 1, "front matter has no `country`"))?;
        let j = Jurisdiction::parse(country)
            .map_err(|m| ImportError::new(file, fm.line_of("country"), m))?;
        if fm.text("title").is_none() {
            return Err(ImportError::new(file, 1, "front matter has no `title`"));
        }
        (id.to_owned(), j)
    } else {
        let id: String = stem
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
            .collect();
        if id.is_empty() {
            return Err(ImportError::new(
                file,
                0,
                "cannot derive an identifier from the file name",
            ));
        }
        (id, Jurisdiction::International)
    };
    let language = fm
        .text("language")
        .map(|l| l.to_ascii_lowercase())
        .unwrap_or_else(|| default_language(&jurisdiction).to_owned());
    let mut reader = Reader {
        fm: &fm,
        parts: vec![Part {
            identifier: identifier.clone(),
            title: None,
            language,
            family: None,
            preamble: Vec::new(),
            articles: Vec::new(),
        }],
        divisions: Vec::new(),
        ranks: std::collections::HashMap::new(),
        pending: Vec::new(),
        paragraph: Vec::new(),
        division_open: false,
        warnings: Vec::new(),
    };
    let mut seen_title_heading = false;
    for (i, line) in text.lines().enumerate().skip(fm.body_start - 1) {
        let n = i + 1;
        let trimmed = line.trim();
        if trimmed.is_empty() {
            reader.flush_paragraph();
            continue;
        }
        if trimmed.starts_with("<meta") || trimmed.starts_with("<!--") {
            continue;
        }
        if let Some((level, h)) = heading(trimmed) {
            if starts_lowercase(&h) {
                reader.text_line(&h);
                continue;
            }
            if level == 1 && !seen_title_heading && has_fm {
                seen_title_heading = true;
                continue;
            }
            if let Some(m) = article_marker(&h, false).or_else(|| section_number(&h)) {
                reader.marker(n, m);
            } else if let Some((keyword, family)) = division(&h) {
                reader.division_heading(h, keyword, family);
            } else {
                reader.free_heading(n, level, h);
            }
            continue;
        }
        if let Some(m) = bold_marker(trimmed) {
            reader.marker(n, m);
            continue;
        }
        // A whole line `Article 60-1` (older French codes).
        if let Some(m) = article_marker(trimmed, false).filter(|m| m.rest.is_empty()) {
            reader.marker(n, m);
            continue;
        }
        reader.text_line(trimmed);
    }
    reader.flush_paragraph();
    reader.pending_as_text();
    let Reader {
        parts,
        mut warnings,
        ..
    } = reader;
    let mut instruments = Vec::new();
    let date =
        parse_date(fm.text("last_updated")).or_else(|| parse_date(fm.text("publication_date")));
    let source_url = fm.text("source").map(str::to_owned);
    let licence = fm
        .text("licence")
        .or_else(|| fm.text("license"))
        .map(str::to_owned);
    let content_type = if jurisdiction == Jurisdiction::International {
        ContentType::Treaty
    } else {
        ContentType::Legislation
    };
    for part in parts {
        let title = fm
            .text("title")
            .filter(|_| part.identifier == identifier)
            .map(str::to_owned)
            .or(part.title.clone())
            .ok_or_else(|| {
                ImportError::new(
                    file,
                    0,
                    "no title: give `title` in front matter or a heading",
                )
            })?;
        let mut seen = std::collections::HashMap::<String, u32>::new();
        let mut articles = Vec::new();
        let mut extra: Vec<String> = Vec::new();
        for a in part.articles {
            if a.marker.keyword.is_empty() {
                // Text under a division before its first article: kept with
                // the instrument's own text, under the division's name.
                if a.has_text() {
                    let mut block = a.path.last().cloned().unwrap_or_default();
                    for p in &a.paragraphs {
                        block.push_str("\n\n");
                        block.push_str(p);
                    }
                    extra.push(block);
                }
                continue;
            }
            let label = format!("{} {}", a.marker.keyword, a.marker.number);
            if !a.has_text() {
                warnings.push(ImportWarning {
                    file: file.to_owned(),
                    line: a.line,
                    message: format!("{label} has no text; skipped"),
                });
                continue;
            }
            let base = article_slug(&a.marker.number);
            let count = seen.entry(base.clone()).or_insert(0);
            *count += 1;
            let slug = if *count == 1 {
                base
            } else {
                warnings.push(ImportWarning {
                    file: file.to_owned(),
                    line: a.line,
                    message: format!("{label} appears again; identified as ~{count}"),
                });
                format!("{base}~{count}")
            };
            let position = u32::try_from(articles.len()).unwrap_or(u32::MAX);
            articles.push(Document {
                id: format!("{}:{slug}", part.identifier),
                unit: part.identifier.clone(),
                content_type,
                jurisdiction,
                instrument: Some(part.identifier.clone()),
                instrument_title: Some(title.clone()),
                number: Some(a.marker.number.clone()),
                label: Some(label.clone()),
                path: a.path,
                position,
                date,
                source_url: source_url.clone(),
                licence: licence.clone(),
                texts: vec![LangText {
                    lang: part.language.clone(),
                    title: a.title.unwrap_or(label),
                    text: a.paragraphs.join("\n\n"),
                }],
                record: None,
            });
        }
        let mut blocks = part.preamble;
        blocks.extend(extra);
        let preamble = blocks.join("\n\n");
        if articles.is_empty() && preamble.is_empty() {
            return Err(ImportError::new(file, 0, "no text found"));
        }
        instruments.push(ParsedInstrument {
            instrument: Document {
                id: part.identifier.clone(),
                unit: part.identifier.clone(),
                content_type,
                jurisdiction,
                instrument: None,
                instrument_title: None,
                number: None,
                label: None,
                path: Vec::new(),
                position: 0,
                date,
                source_url: source_url.clone(),
                licence: licence.clone(),
                texts: vec![LangText {
                    lang: part.language,
                    title,
                    text: preamble,
                }],
                record: None,
            },
            articles,
        });
    }
    Ok(ParsedFile {
        instruments,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> ParsedInstrument {
        parse("t.md", "t", text).unwrap().instruments.remove(0)
    }

    #[test]
    fn markers() {
        let m = article_marker("Article 323-1", false).unwrap();
        assert_eq!((m.keyword, m.number.as_str()), ("Article", "323-1"));
        let m = article_marker("ARTICULO 153 BIS.", false).unwrap();
        assert_eq!(m.number, "153 BIS");
        let m = article_marker("§ 1030. Fraud and related activity", false).unwrap();
        assert_eq!(
            (m.number.as_str(), m.rest.as_str()),
            ("1030", "Fraud and related activity")
        );
        let m = article_marker("Article L. 34-1", false).unwrap();
        assert_eq!(m.number, "L. 34-1");
        let m = article_marker("ARTICULO 1º — Incorpóranse los siguientes:", false).unwrap();
        assert_eq!(
            (m.number.as_str(), m.rest.as_str()),
            ("1", "Incorpóranse los siguientes:")
        );
        assert!(m.rest_is_text);
        assert!(article_marker("Articles 1 to 3", false).is_none());
        assert!(article_marker("Article premier", false).is_some());
        assert!(article_marker("Article du code", false).is_none());
        let b = bold_marker("**ARTICULO 153 BIS.** - Será reprimido con").unwrap();
        assert_eq!(
            (b.number.as_str(), b.rest.as_str()),
            ("153 BIS", "Será reprimido con")
        );
        assert!(section_number("3ZA").is_some());
        assert!(section_number("1990").is_some());
        assert!(section_number("Jurisdiction").is_none());
    }

    #[test]
    fn french_code_hierarchy() {
        let p = one(
            "---\ntitle: \"Code pénal\"\nidentifier: \"LEGI1\"\ncountry: \"fr\"\nlast_updated: \"2026-04-02\"\n---\n# Code pénal\n\n## Partie législative\n\n### Livre III : Des crimes et délits contre les biens\n\n#### Titre II : Des autres atteintes aux biens\n\n#### Chapitre III : Des atteintes aux systèmes\n\n##### Article 323-1\n\nLe fait d'accéder frauduleusement...\n\n   Lorsqu'il en est résulté...\n\n##### Article 323-2\n\nLe fait d'entraver...\n\n#### Chapitre IV : Autre\n\n##### Article 324-1\n\nTexte.\n",
        );
        assert_eq!(p.articles.len(), 3);
        let a = &p.articles[0];
        assert_eq!(a.id, "LEGI1:323-1");
        assert_eq!(
            a.path,
            vec![
                "Partie législative",
                "Livre III : Des crimes et délits contre les biens",
                "Titre II : Des autres atteintes aux biens",
                "Chapitre III : Des atteintes aux systèmes"
            ]
        );
        assert_eq!(a.texts[0].lang, "fr");
        assert!(a.texts[0].text.contains("\n\nLorsqu'il"));
        assert_eq!(p.articles[2].path.last().unwrap(), "Chapitre IV : Autre");
        assert_eq!(p.articles[2].path.len(), 4);
        assert_eq!(p.instrument.date.map(|d| d.year()), Some(2026));
        assert_eq!(a.citation("fr"), "Code pénal (FR), Article 323-1");
    }

    #[test]
    fn uk_sections_take_the_heading_before_as_title() {
        let p = one("---\ntitle: \"Computer Misuse Act 1990\"\nidentifier: \"ukpga-1990-18\"\ncountry: \"uk\"\n---\n# Computer Misuse Act 1990\n\n### Computer misuse offences\n\n#### Unauthorised access to computer material\n\n##### 1\n\n(1) A person is guilty...\n\n#### Unauthorised modification\n\n##### 3\n\nText three.\n\n### Jurisdiction\n\n#### Territorial scope\n\n##### 4\n\nText four.\n");
        assert_eq!(p.articles.len(), 3);
        assert_eq!(p.articles[0].id, "ukpga-1990-18:1");
        assert_eq!(
            p.articles[0].texts[0].title,
            "Unauthorised access to computer material"
        );
        assert_eq!(p.articles[0].path, vec!["Computer misuse offences"]);
        assert_eq!(p.articles[2].path, vec!["Jurisdiction"]);
        assert_eq!(p.articles[0].jurisdiction.code(), "GB");
        assert_eq!(p.articles[0].texts[0].lang, "en");
    }

    #[test]
    fn argentine_bold_markers_and_wrapped_lines() {
        let p = one("---\ntitle: \"CODIGO PENAL\"\nidentifier: \"LEY-11179\"\ncountry: \"ar\"\n---\n# CODIGO PENAL\n\n### LIBRO SEGUNDO\n\n### Capítulo III\n\n**ARTICULO 153 BIS.** - Será reprimido con\n\nprisión de quince días\n\n##### artículo 86.\n\nsi no resultare un delito.\n\n_(Artículo incorporado por art. 5° de la Ley N° 26.388)_\n\n**ARTICULO 154.** - Otro texto.\n");
        assert_eq!(p.articles.len(), 2);
        let a = &p.articles[0];
        assert_eq!(a.id, "LEY-11179:153-bis");
        assert_eq!(a.label.as_deref(), Some("Artículo 153 BIS"));
        assert!(
            a.texts[0]
                .text
                .starts_with("Será reprimido con prisión de quince días artículo 86. si no"),
            "{}",
            a.texts[0].text
        );
        assert_eq!(a.path, vec!["LIBRO SEGUNDO", "Capítulo III"]);
        assert_eq!(a.texts[0].lang, "es");
    }

    #[test]
    fn treaty_with_translation_becomes_two_instruments() {
        let f = parse("b.md", "ets185", "<meta http-equiv='x' />\n\n##Verdrag inzake\n\n####Convention on Cybercrime\n\nPreamble The member States...\n### CHAPTER  I  \n\n####USE OF TERMS\n\n### Article  1  \n\n####Definitions\n\nFor the purposes of this Convention:\n\n### Article  2  \n\n####Illegal access\n\nEach Party shall adopt...\n\n####Verdrag inzake de bestrijding\n\n### HOOFDSTUK  I  \n\n####TERMINOLOGIE\n\n### Artikel  1  \n\n####Begripsomschrijvingen\n\nVoor de toepassing van dit Verdrag:\n").unwrap();
        assert_eq!(f.instruments.len(), 2);
        let en = &f.instruments[0];
        assert_eq!(en.instrument.texts[0].title, "Convention on Cybercrime");
        assert_eq!(en.instrument.content_type, ContentType::Treaty);
        assert_eq!(en.articles.len(), 2);
        assert_eq!(en.articles[1].id, "ets185:2");
        assert_eq!(en.articles[1].texts[0].title, "Illegal access");
        assert_eq!(en.articles[1].path, vec!["CHAPTER I — USE OF TERMS"]);
        assert!(!en.articles[1].texts[0].text.contains("Verdrag"));
        let nl = &f.instruments[1];
        assert_eq!(nl.instrument.id, "ets185-nl");
        assert_eq!(
            nl.instrument.texts[0].title,
            "Verdrag inzake de bestrijding"
        );
        assert_eq!(nl.articles[0].texts[0].lang, "nl");
        assert_eq!(nl.articles[0].path, vec!["HOOFDSTUK I — TERMINOLOGIE"]);
    }

    #[test]
    fn eu_article_titles_and_us_sections() {
        let p = one("---\ntitle: \"Regulation\"\nidentifier: \"32023R1543\"\ncountry: \"eu\"\n---\n# Regulation\n\n## CHAPTER I **SUBJECT MATTER**\n\n#### Article 1\n\n##### Subject matter\n\n1. This Regulation lays down...\n");
        assert_eq!(p.articles[0].texts[0].title, "Subject matter");
        assert_eq!(p.articles[0].path, vec!["CHAPTER I SUBJECT MATTER"]);
        assert_eq!(p.articles[0].jurisdiction.code(), "EU");
        let us = one("---\ntitle: \"§ 1030\"\nidentifier: \"USC-T18-S1030\"\ncountry: \"us\"\n---\n# § 1030. Fraud\n\n##### § 1030. Fraud and related activity in connection with computers\n\n(a) Whoever—\n\n#### **Editorial Notes**\n\n#### References in Text\n\nThe Atomic Energy Act...\n");
        assert_eq!(us.articles.len(), 1);
        assert_eq!(us.articles[0].id, "USC-T18-S1030:1030");
        assert!(us.articles[0].texts[0].text.contains("References in Text"));
    }

    #[test]
    fn old_french_codes_mark_articles_on_plain_lines() {
        let p = one("---\ntitle: \"CPP\"\nidentifier: \"LEGI2\"\ncountry: \"fr\"\n---\n# CPP\n\nArticle 60-1\n\nLe procureur de la République...\n\nArticle 60-2\n\nSur demande de l'officier... Article 60-1 du présent code.\n\nArticle 60-3\n\n");
        assert_eq!(p.articles.len(), 2);
        assert_eq!(p.articles[1].id, "LEGI2:60-2");
    }

    #[test]
    fn bad_input_names_file_and_line() {
        let e = parse(
            "x.md",
            "x",
            "---\ntitle: \"T\"\nidentifier: \"X\"\ncountry: \"zz\"\n---\n",
        )
        .unwrap_err();
        assert_eq!(
            (e.line, e.message.as_str()),
            (4, "unknown country code 'zz'")
        );
        let e = parse("x.md", "x", "---\ntitle: \"T\"\ncountry: \"fr\"\n---\n").unwrap_err();
        assert!(e.message.contains("identifier"));
        let e = parse(
            "x.md",
            "x",
            "---\ntitle: \"T\"\nidentifier: \"X\"\ncountry: \"fr\"\n---\n# T\n",
        )
        .unwrap_err();
        assert_eq!(e.message, "no text found");
        let f = parse("x.md", "x", "---\ntitle: \"T\"\nidentifier: \"X\"\ncountry: \"fr\"\n---\n##### Article 1\n\n##### Article 2\n\nText.\n\n##### Article 2\n\nAgain.\n").unwrap();
        assert_eq!(f.instruments[0].articles.len(), 2);
        assert_eq!(f.instruments[0].articles[1].id, "X:2~2");
        assert_eq!(f.warnings.len(), 2);
        assert_eq!(f.warnings[0].line, 6);
    }
}
