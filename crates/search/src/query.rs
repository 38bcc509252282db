//! The query language: words, "phrases", AND / OR / NOT (also `+word` and
//! `-word`), parentheses, and field filters (`country:FR`, `type:treaty`,
//! `lang:fr`, `instrument:ID`, `offence:illegal-access`, `year:2023`,
//! `number:323-1`, `title:word`, `text:"a phrase"`). Words side by side
//! must all match. Errors give the character position.

/// A parsed query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Word(String),
    Phrase(String),
    Field(Field, Box<Node>),
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
}

/// The fields a query may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Country,
    Type,
    Lang,
    Instrument,
    Offence,
    Year,
    Number,
    Title,
    Text,
}

impl Field {
    pub const ALL: [(&'static str, Field); 9] = [
        ("country", Field::Country),
        ("type", Field::Type),
        ("lang", Field::Lang),
        ("instrument", Field::Instrument),
        ("offence", Field::Offence),
        ("year", Field::Year),
        ("number", Field::Number),
        ("title", Field::Title),
        ("text", Field::Text),
    ];

    /// Filters match a stored value exactly; `title` and `text` search.
    pub fn is_filter(&self) -> bool {
        !matches!(self, Field::Title | Field::Text)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (at character {position})")]
pub struct SyntaxError {
    /// 1-based character position in the query.
    pub position: usize,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Phrase(String),
    FieldPrefix(String),
    And,
    Or,
    Not,
    Plus,
    Minus,
    Open,
    Close,
}

fn lex(q: &str) -> Result<Vec<(usize, Tok)>, SyntaxError> {
    let chars: Vec<char> = q.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let pos = i + 1;
        if c.is_whitespace() {
            i += 1;
        } else if c == '"' {
            let start = i;
            i += 1;
            let mut s = String::new();
            while i < chars.len() && chars[i] != '"' {
                s.push(chars[i]);
                i += 1;
            }
            if i >= chars.len() {
                return Err(SyntaxError {
                    position: start + 1,
                    message: "the quotation mark is not closed".into(),
                });
            }
            i += 1;
            out.push((pos, Tok::Phrase(s)));
        } else if c == '(' {
            out.push((pos, Tok::Open));
            i += 1;
        } else if c == ')' {
            out.push((pos, Tok::Close));
            i += 1;
        } else if (c == '+' || c == '-')
            && out
                .last()
                .is_none_or(|(_, t)| !matches!(t, Tok::FieldPrefix(_)))
            && (i == 0 || chars[i - 1].is_whitespace() || chars[i - 1] == '(')
        {
            out.push((pos, if c == '+' { Tok::Plus } else { Tok::Minus }));
            i += 1;
        } else {
            let mut s = String::new();
            while i < chars.len()
                && !chars[i].is_whitespace()
                && !matches!(chars[i], '(' | ')' | '"')
            {
                if chars[i] == ':'
                    && !s.is_empty()
                    && Field::ALL.iter().any(|(n, _)| *n == s.to_lowercase())
                {
                    break;
                }
                s.push(chars[i]);
                i += 1;
            }
            if i < chars.len() && chars[i] == ':' {
                i += 1;
                out.push((pos, Tok::FieldPrefix(s.to_lowercase())));
                continue;
            }
            let tok = match s.as_str() {
                "AND" | "&&" => Tok::And,
                "OR" | "||" => Tok::Or,
                "NOT" => Tok::Not,
                _ => Tok::Word(s),
            };
            out.push((pos, tok));
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<(usize, Tok)>,
    at: usize,
    len: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at).map(|(_, t)| t)
    }

    fn pos(&self) -> usize {
        self.toks
            .get(self.at)
            .map(|(p, _)| *p)
            .unwrap_or(self.len + 1)
    }

    fn err<T>(&self, message: impl Into<String>) -> Result<T, SyntaxError> {
        Err(SyntaxError {
            position: self.pos(),
            message: message.into(),
        })
    }

    fn or(&mut self) -> Result<Node, SyntaxError> {
        let mut items = vec![self.and()?];
        while self.peek() == Some(&Tok::Or) {
            self.at += 1;
            if self.peek().is_none() || self.peek() == Some(&Tok::Close) {
                return self.err("OR needs something after it");
            }
            items.push(self.and()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Node::Or(items)
        })
    }

    fn and(&mut self) -> Result<Node, SyntaxError> {
        let mut items = vec![self.unary()?];
        loop {
            match self.peek() {
                None | Some(Tok::Or) | Some(Tok::Close) => break,
                Some(Tok::And) => {
                    self.at += 1;
                    if matches!(self.peek(), None | Some(Tok::Or) | Some(Tok::Close)) {
                        return self.err("AND needs something after it");
                    }
                }
                _ => {}
            }
            items.push(self.unary()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Node::And(items)
        })
    }

    fn unary(&mut self) -> Result<Node, SyntaxError> {
        match self.peek() {
            Some(Tok::Not) | Some(Tok::Minus) => {
                self.at += 1;
                if self.peek().is_none() {
                    return self.err("NOT needs something after it");
                }
                Ok(Node::Not(Box::new(self.unary()?)))
            }
            Some(Tok::Plus) => {
                self.at += 1;
                self.unary()
            }
            _ => self.primary(),
        }
    }

    fn primary(&mut self) -> Result<Node, SyntaxError> {
        let Some((_, tok)) = self.toks.get(self.at).cloned() else {
            return self.err("the query ends too early");
        };
        self.at += 1;
        match tok {
            Tok::Word(w) => Ok(Node::Word(w)),
            Tok::Phrase(p) => Ok(Node::Phrase(p)),
            Tok::Open => {
                if self.peek() == Some(&Tok::Close) {
                    return self.err("the parentheses are empty");
                }
                let inner = self.or()?;
                if self.peek() != Some(&Tok::Close) {
                    return self.err("a closing parenthesis is missing");
                }
                self.at += 1;
                Ok(inner)
            }
            Tok::FieldPrefix(name) => {
                let field = Field::ALL.iter().find(|(n, _)| *n == name).map(|(_, f)| *f);
                let Some(field) = field else {
                    self.at -= 1;
                    return self.err(format!("unknown field '{name}'"));
                };
                match self.toks.get(self.at).cloned() {
                    Some((_, Tok::Word(w))) => {
                        self.at += 1;
                        Ok(Node::Field(field, Box::new(Node::Word(w))))
                    }
                    Some((_, Tok::Phrase(p))) => {
                        self.at += 1;
                        Ok(Node::Field(field, Box::new(Node::Phrase(p))))
                    }
                    _ => self.err(format!("'{name}:' needs a value")),
                }
            }
            Tok::Close => {
                self.at -= 1;
                self.err("this closing parenthesis has no opening one")
            }
            Tok::And | Tok::Or => {
                self.at -= 1;
                self.err("AND and OR go between two terms")
            }
            Tok::Not | Tok::Plus | Tok::Minus => self.err("unexpected operator"),
        }
    }
}

/// Parses a query; `Ok(None)` for an empty one.
pub fn parse(q: &str) -> Result<Option<Node>, SyntaxError> {
    let toks = lex(q)?;
    if toks.is_empty() {
        return Ok(None);
    }
    let mut p = Parser {
        toks,
        at: 0,
        len: q.chars().count(),
    };
    let node = p.or()?;
    if p.at < p.toks.len() {
        return p.err("this closing parenthesis has no opening one");
    }
    Ok(Some(node))
}

/// The words and phrases of a query outside field filters and negations:
/// what the taxonomy bridge reads.
pub fn free_text(node: &Node) -> String {
    fn walk(n: &Node, out: &mut Vec<String>) {
        match n {
            Node::Word(w) | Node::Phrase(w) => out.push(w.clone()),
            Node::And(items) | Node::Or(items) => items.iter().for_each(|i| walk(i, out)),
            Node::Field(_, _) | Node::Not(_) => {}
        }
    }
    let mut out = Vec::new();
    walk(node, &mut out);
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Node {
        Node::Word(s.into())
    }

    #[test]
    fn grammar() {
        assert_eq!(parse("").unwrap(), None);
        assert_eq!(
            parse("accès frauduleux").unwrap(),
            Some(Node::And(vec![w("accès"), w("frauduleux")]))
        );
        assert_eq!(
            parse("a OR b c").unwrap(),
            Some(Node::Or(vec![w("a"), Node::And(vec![w("b"), w("c")])]))
        );
        assert_eq!(
            parse("\"illegal access\" -data country:FR").unwrap(),
            Some(Node::And(vec![
                Node::Phrase("illegal access".into()),
                Node::Not(Box::new(w("data"))),
                Node::Field(Field::Country, Box::new(w("FR"))),
            ]))
        );
        assert_eq!(
            parse("(a OR b) AND NOT c").unwrap(),
            Some(Node::And(vec![
                Node::Or(vec![w("a"), w("b")]),
                Node::Not(Box::new(w("c")))
            ]))
        );
        assert_eq!(parse("323-1").unwrap(), Some(w("323-1")));
        assert_eq!(
            parse("number:323-1").unwrap(),
            Some(Node::Field(Field::Number, Box::new(w("323-1"))))
        );
        assert_eq!(parse("http://x").unwrap(), Some(w("http://x")));
    }

    #[test]
    fn errors_have_positions() {
        let e = parse("a \"open").unwrap_err();
        assert_eq!(e.position, 3);
        let e = parse("(a OR b").unwrap_err();
        assert_eq!(
            (e.position, e.message.as_str()),
            (8, "a closing parenthesis is missing")
        );
        let e = parse("a OR").unwrap_err();
        assert_eq!(e.position, 5);
        let e = parse("a ) b").unwrap_err();
        assert_eq!(e.position, 3);
        let e = parse("colour:red").unwrap_or(None);
        assert_eq!(e, Some(w("colour:red")));
        let e = parse("country:").unwrap_err();
        assert_eq!(e.message, "'country:' needs a value");
        let e = parse("AND a").unwrap_err();
        assert_eq!(e.position, 1);
    }

    #[test]
    fn free_text_skips_filters() {
        let n = parse("illegal access country:FR -data").unwrap().unwrap();
        assert_eq!(free_text(&n), "illegal access");
    }
}
