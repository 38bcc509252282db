//! CSV cells for exports that people open in spreadsheets.

/// A CSV field, always quoted, with spreadsheet formulas neutralised (CSV
/// injection): a leading `=`, `+`, `-` or `@` gets a `'` before it.
pub fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    format!("\"{}\"", s.replace('"', "\"\""))
}
