//! The field names a Tableau calculation refers to.
//!
//! A reference is `[Name]`, where `]]` stands for a literal `]` (so
//! `[Margin [Adj]]]` names `Margin [Adj]`). Text in string literals
//! (`"…"` or `'…'`, a doubled quote escaping itself) and `//` comments is
//! not code. A qualified reference `[Scope].[Name]` names something outside
//! the datasource: `[Parameters].[Rate]` is a parameter, anything else a
//! field of another (blended) datasource. Neither can be checked against
//! the datasource's own fields, so both are skipped.

/// Unqualified `[Name]` references, in order of appearance, with repeats.
pub fn references(formula: &str) -> Vec<String> {
    let mut refs = Vec::new();
    let mut rest = formula;
    while let Some(c) = rest.chars().next() {
        match c {
            '"' | '\'' => rest = skip_string(rest, c),
            '/' if rest.starts_with("//") => rest = rest.find('\n').map_or("", |nl| &rest[nl..]),
            '[' => {
                let (name, after) = bracketed(rest);
                rest = after;
                if let Some(qualified) = rest.strip_prefix('.').filter(|r| r.starts_with('[')) {
                    // `[Scope].[Name]`: skip the second half too.
                    let (_, after) = bracketed(qualified);
                    rest = after;
                } else {
                    refs.push(name);
                }
            }
            _ => rest = &rest[c.len_utf8()..],
        }
    }
    refs
}

/// Reads `[…]` at the start of `s`; returns the unescaped name and what follows.
/// An unterminated bracket runs to the end.
fn bracketed(s: &str) -> (String, &str) {
    let mut name = String::new();
    let mut chars = s[1..].char_indices();
    while let Some((i, c)) = chars.next() {
        if c == ']' {
            if s[1 + i + 1..].starts_with(']') {
                name.push(']');
                chars.next();
                continue;
            }
            return (name, &s[1 + i + 1..]);
        }
        name.push(c);
    }
    (name, "")
}

/// Skips a string literal opened by `quote` at the start of `s`.
fn skip_string(s: &str, quote: char) -> &str {
    let mut i = 1;
    while let Some(c) = s[i..].chars().next() {
        i += c.len_utf8();
        if c == quote {
            if s[i..].starts_with(quote) {
                i += quote.len_utf8();
                continue;
            }
            return &s[i..];
        }
    }
    ""
}

#[cfg(test)]
mod tests {
    use super::references;

    #[test]
    fn plain_and_nested_calls() {
        assert_eq!(references("SUM([Sales]) / SUM([Profit])"), ["Sales", "Profit"]);
        assert_eq!(references("IF [A] > 0 THEN [B] ELSE [A] END"), ["A", "B", "A"]);
    }

    #[test]
    fn escaped_brackets() {
        assert_eq!(references("SUM([Margin [Adj]]])"), ["Margin [Adj]"]);
        assert_eq!(references("[a]]]]b]"), ["a]]b"]);
    }

    #[test]
    fn parameters_and_qualified_names_are_skipped() {
        assert_eq!(references("[Sales] * [Parameters].[Growth Rate]"), ["Sales"]);
        assert_eq!(references("[Other DS].[Region] + [Region]"), ["Region"]);
    }

    #[test]
    fn strings_and_comments_are_not_code() {
        assert_eq!(references(r#"IF [Status] = "[Closed]" THEN 1 END"#), ["Status"]);
        assert_eq!(references("IF [S] = 'it''s [x]' THEN [Y] END"), ["S", "Y"]);
        assert_eq!(references("[A] // [Not Used]\n+ [B]"), ["A", "B"]);
    }

    #[test]
    fn unterminated_input_does_not_panic() {
        assert_eq!(references("[Open"), ["Open"]);
        assert_eq!(references("\"open string [X]"), Vec::<String>::new());
        assert_eq!(references("[é]+[ü]"), ["é", "ü"]);
    }
}
