//! CSV cells for exports that people open in spreadsheets.

/// A CSV field, always quoted, with spreadsheet formulas neutralised (CSV
/// injection, as OWASP advises): a leading `=`, `+`, `-`, `@`, tab or
/// carriage return gets a `'` before it.
pub fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    format!("\"{}\"", s.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::csv_field;

    #[test]
    fn formulas_are_neutralised() {
        for (cell, expected) in [
            ("=1+1", "\"'=1+1\""),
            ("+1", "\"'+1\""),
            ("-1", "\"'-1\""),
            ("@SUM(A1)", "\"'@SUM(A1)\""),
            ("\t=1+1", "\"'\t=1+1\""),
            ("\r=1+1", "\"'\r=1+1\""),
        ] {
            assert_eq!(csv_field(cell), expected, "{cell:?}");
        }
    }

    #[test]
    fn other_cells_are_quoted_only() {
        assert_eq!(csv_field("FR"), "\"FR\"");
        assert_eq!(csv_field(""), "\"\"");
        assert_eq!(csv_field("a \"b\" =c"), "\"a \"\"b\"\" =c\"");
        assert_eq!(csv_field("a\tb"), "\"a\tb\"");
    }
}
