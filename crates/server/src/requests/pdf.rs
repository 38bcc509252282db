//! The formal document of a request: a PDF (and a print-friendly page) in
//! the language the requested authority accepts, with every section, the
//! references, the approver's block and page numbers. Uses the PDF base-14
//! Helvetica fonts with WinAnsi encoding (Latin scripts: English, French,
//! Spanish), so nothing needs to be embedded.

use pdf_writer::{Content, Name, Pdf, Rect, Ref, Str, TextStr};

/// A document as blocks, before layout.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    Title(String),
    Subtitle(String),
    Heading(String),
    /// A label and its value (value may span several lines).
    Field(String, String),
    Paragraph(String),
}

#[derive(Debug, Clone)]
pub struct FormalDocument {
    pub title: String,
    pub blocks: Vec<Block>,
    /// "Page {n} of {total}" with the two numbers substituted.
    pub page_label: String,
    pub footer: String,
}

const PAGE_W: f32 = 595.0;
const PAGE_H: f32 = 842.0;
const MARGIN: f32 = 56.0;
const WIDTH: f32 = PAGE_W - 2.0 * MARGIN;

/// Helvetica advance widths (per 1000 em), approximated by class; a little
/// wide on purpose so lines never overflow the margin.
fn char_width(c: char) -> f32 {
    match c {
        ' ' => 278.0,
        'i' | 'l' | 'j' | '.' | ',' | ':' | ';' | '\'' | '|' | '!' | 'I' => 260.0,
        'f' | 't' | 'r' | '(' | ')' | '[' | ']' | '/' | '-' => 340.0,
        'm' | 'w' | 'M' | 'W' | '@' | '%' => 900.0,
        '0'..='9' => 556.0,
        c if c.is_uppercase() => 722.0,
        _ => 560.0,
    }
}

fn text_width(s: &str, size: f32) -> f32 {
    s.chars().map(char_width).sum::<f32>() * size / 1000.0
}

/// Breaks a text into lines that fit `width` at `size`.
pub fn wrap(text: &str, size: f32, width: f32) -> Vec<String> {
    let mut lines = Vec::new();
    for para in text.split('\n') {
        let mut line = String::new();
        for word in para.split_whitespace() {
            let candidate = if line.is_empty() {
                word.to_owned()
            } else {
                format!("{line} {word}")
            };
            if text_width(&candidate, size) <= width || line.is_empty() {
                // A single word longer than the line is cut by characters.
                if text_width(&candidate, size) > width && line.is_empty() {
                    let mut chunk = String::new();
                    for c in word.chars() {
                        chunk.push(c);
                        if text_width(&chunk, size) > width {
                            chunk.pop();
                            lines.push(std::mem::take(&mut chunk));
                            chunk.push(c);
                        }
                    }
                    line = chunk;
                } else {
                    line = candidate;
                }
            } else {
                lines.push(std::mem::replace(&mut line, word.to_owned()));
            }
        }
        lines.push(line);
    }
    lines
}

/// WinAnsi (Windows-1252) bytes of a text; characters outside it become '?'.
pub fn win_ansi(s: &str) -> Vec<u8> {
    s.chars()
        .map(|c| match c {
            '\u{20}'..='\u{7e}' | '\u{a0}'..='\u{ff}' => c as u32 as u8,
            '€' => 0x80,
            '‚' => 0x82,
            '„' => 0x84,
            '…' => 0x85,
            '‘' => 0x91,
            '’' => 0x92,
            '“' => 0x93,
            '”' => 0x94,
            '•' => 0x95,
            '–' => 0x96,
            '—' => 0x97,
            'œ' => 0x9c,
            'Œ' => 0x8c,
            '→' => b'>',
            _ => b'?',
        })
        .collect()
}

struct Line {
    bold: bool,
    size: f32,
    x: f32,
    y: f32,
    text: String,
}

/// Lays the blocks out on A4 pages.
fn layout(doc: &FormalDocument) -> Vec<Vec<Line>> {
    let mut pages: Vec<Vec<Line>> = vec![Vec::new()];
    let mut y = PAGE_H - MARGIN;
    let bottom = MARGIN + 30.0;
    let put = |pages: &mut Vec<Vec<Line>>,
               y: &mut f32,
               bold: bool,
               size: f32,
               x: f32,
               text: String,
               gap_before: f32| {
        let lead = size * 1.35;
        if *y - gap_before - lead < bottom {
            pages.push(Vec::new());
            *y = PAGE_H - MARGIN;
        } else {
            *y -= gap_before;
        }
        *y -= lead;
        if let Some(page) = pages.last_mut() {
            page.push(Line {
                bold,
                size,
                x,
                y: *y,
                text,
            });
        }
    };
    for block in &doc.blocks {
        match block {
            Block::Title(t) => {
                for l in wrap(t, 16.0, WIDTH) {
                    put(&mut pages, &mut y, true, 16.0, MARGIN, l, 0.0);
                }
            }
            Block::Subtitle(t) => {
                for l in wrap(t, 10.0, WIDTH) {
                    put(&mut pages, &mut y, false, 10.0, MARGIN, l, 0.0);
                }
            }
            Block::Heading(t) => {
                for (i, l) in wrap(t, 12.0, WIDTH).into_iter().enumerate() {
                    put(
                        &mut pages,
                        &mut y,
                        true,
                        12.0,
                        MARGIN,
                        l,
                        if i == 0 { 12.0 } else { 0.0 },
                    );
                }
            }
            Block::Field(label, value) => {
                for (i, l) in wrap(label, 9.0, WIDTH).into_iter().enumerate() {
                    put(
                        &mut pages,
                        &mut y,
                        true,
                        9.0,
                        MARGIN,
                        l,
                        if i == 0 { 5.0 } else { 0.0 },
                    );
                }
                for l in wrap(value, 10.0, WIDTH - 12.0) {
                    put(&mut pages, &mut y, false, 10.0, MARGIN + 12.0, l, 0.0);
                }
            }
            Block::Paragraph(t) => {
                for (i, l) in wrap(t, 10.0, WIDTH).into_iter().enumerate() {
                    put(
                        &mut pages,
                        &mut y,
                        false,
                        10.0,
                        MARGIN,
                        l,
                        if i == 0 { 5.0 } else { 0.0 },
                    );
                }
            }
        }
    }
    pages
}

/// Renders the document. Deterministic: the same document gives the same
/// bytes, so its SHA-256 identifies it.
pub fn render_pdf(doc: &FormalDocument) -> Vec<u8> {
    let pages = layout(doc);
    let total = pages.len();
    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let regular = Ref::new(3);
    let bold = Ref::new(4);
    let info = Ref::new(5);
    let first_page = 10;
    let page_ids: Vec<Ref> = (0..total)
        .map(|i| Ref::new(first_page + 2 * i as i32))
        .collect();
    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree)
        .kids(page_ids.iter().copied())
        .count(total as i32);
    pdf.type1_font(regular)
        .base_font(Name(b"Helvetica"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    pdf.type1_font(bold)
        .base_font(Name(b"Helvetica-Bold"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    pdf.document_info(info)
        .title(TextStr(&doc.title))
        .creator(TextStr("Entraide"));
    for (i, lines) in pages.iter().enumerate() {
        let page_id = page_ids[i];
        let content_id = Ref::new(page_id.get() + 1);
        let mut page = pdf.page(page_id);
        page.parent(tree)
            .media_box(Rect::new(0.0, 0.0, PAGE_W, PAGE_H))
            .contents(content_id);
        page.resources()
            .fonts()
            .pair(Name(b"F1"), regular)
            .pair(Name(b"F2"), bold);
        drop(page);
        let mut c = Content::new();
        for l in lines {
            let text = win_ansi(&l.text);
            c.begin_text();
            c.set_font(Name(if l.bold { b"F2" } else { b"F1" }), l.size);
            c.next_line(l.x, l.y);
            c.show(Str(&text));
            c.end_text();
        }
        let label = doc
            .page_label
            .replace("{n}", &(i + 1).to_string())
            .replace("{total}", &total.to_string());
        for (text, x) in [
            (doc.footer.clone(), MARGIN),
            (label.clone(), PAGE_W - MARGIN - text_width(&label, 8.0)),
        ] {
            let bytes = win_ansi(&text);
            c.begin_text();
            c.set_font(Name(b"F1"), 8.0);
            c.next_line(x, MARGIN - 20.0);
            c.show(Str(&bytes));
            c.end_text();
        }
        let data = c.finish();
        pdf.stream(content_id, &data);
    }
    pdf.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_fit_and_nothing_is_lost() {
        let text = "Le 20 novembre 2026 vers 03:10 UTC, les fichiers d'un groupe hospitalier ont été chiffrés. ".repeat(5);
        let lines = wrap(&text, 10.0, 200.0);
        assert!(lines.len() > 3);
        for l in &lines {
            assert!(text_width(l, 10.0) <= 200.0, "{l}");
        }
        assert_eq!(
            lines.join(" ").split_whitespace().count(),
            text.split_whitespace().count()
        );
        let long = wrap(&"x".repeat(500), 10.0, 100.0);
        assert!(long.iter().all(|l| text_width(l, 10.0) <= 100.0));
    }

    #[test]
    fn accents_are_encoded() {
        assert_eq!(
            win_ansi("é ñ ¿ — €"),
            vec![0xe9, b' ', 0xf1, b' ', 0xbf, b' ', 0x97, b' ', 0x80]
        );
    }

    #[test]
    fn rendering_is_deterministic_and_paginates() {
        let doc = FormalDocument {
            title: "Test".into(),
            blocks: (0..200)
                .map(|i| Block::Field(format!("Label {i}"), "value ".repeat(20)))
                .collect(),
            page_label: "Page {n} of {total}".into(),
            footer: "Entraide".into(),
        };
        let a = render_pdf(&doc);
        assert_eq!(a, render_pdf(&doc));
        assert!(a.starts_with(b"%PDF-"));
        assert!(layout(&doc).len() > 5);
    }
}
