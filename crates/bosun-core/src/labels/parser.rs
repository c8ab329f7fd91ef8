//! Lexer and recursive-descent parser for the label selector string syntax,
//! following the grammar and error messages of upstream `labels.Parse`:
//!
//! ```text
//! selector    := requirement ( "," requirement )*
//! requirement := [ "!" ] KEY [ set-op "(" values ")" | exact-op VALUE ]
//! set-op      := "in" | "notin"
//! exact-op    := "=" | "==" | "!=" | ">" | "<"
//! ```
//!
//! Whitespace (space, tab, CR, LF) separates tokens; a NUL byte ends the
//! input, as upstream's byte lexer does. `in`/`notin` are keywords only in
//! operator position; elsewhere they are ordinary identifiers.

use std::collections::BTreeSet;

use super::{validate_label_key, Operator, Requirement, SelectorError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    End,
    OpenPar,
    ClosePar,
    Comma,
    Bang,
    Eq,
    DoubleEq,
    NotEq,
    Gt,
    Lt,
    In,
    NotIn,
    Ident,
}

#[derive(Debug, Clone, Copy)]
struct Item<'a> {
    tok: Tok,
    lit: &'a str,
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_special(b: u8) -> bool {
    matches!(b, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

/// Splits the input into tokens; always ends with a `Tok::End` item.
fn lex(input: &str) -> Vec<Item<'_>> {
    let bytes = input.as_bytes();
    let mut items = Vec::new();
    let mut pos = 0;
    loop {
        while pos < bytes.len() && is_space(bytes[pos]) {
            pos += 1;
        }
        let Some(&b) = bytes.get(pos).filter(|&&b| b != 0) else {
            items.push(Item {
                tok: Tok::End,
                lit: "",
            });
            return items;
        };
        let start = pos;
        if is_special(b) {
            // Longest match over the operator table: the only two-character
            // operators are "==" and "!=".
            let two = bytes.get(pos + 1).copied();
            let tok = match (b, two) {
                (b'=', Some(b'=')) => Tok::DoubleEq,
                (b'!', Some(b'=')) => Tok::NotEq,
                (b'=', _) => Tok::Eq,
                (b'!', _) => Tok::Bang,
                (b'(', _) => Tok::OpenPar,
                (b')', _) => Tok::ClosePar,
                (b',', _) => Tok::Comma,
                (b'>', _) => Tok::Gt,
                _ => Tok::Lt,
            };
            pos += if matches!(tok, Tok::DoubleEq | Tok::NotEq) {
                2
            } else {
                1
            };
            items.push(Item {
                tok,
                lit: &input[start..pos],
            });
        } else {
            while pos < bytes.len()
                && bytes[pos] != 0
                && !is_special(bytes[pos])
                && !is_space(bytes[pos])
            {
                pos += 1;
            }
            let lit = &input[start..pos];
            let tok = match lit {
                "in" => Tok::In,
                "notin" => Tok::NotIn,
                _ => Tok::Ident,
            };
            items.push(Item { tok, lit });
        }
    }
}

/// Whether `in`/`notin` are read as keywords (operator position) or as
/// plain identifiers (keys and values).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ctx {
    Operator,
    Value,
}

struct Parser<'a> {
    items: Vec<Item<'a>>,
    pos: usize,
}

type PResult<T> = Result<T, String>;

impl<'a> Parser<'a> {
    fn view(item: Item<'a>, ctx: Ctx) -> (Tok, &'a str) {
        match (ctx, item.tok) {
            (Ctx::Value, Tok::In | Tok::NotIn) => (Tok::Ident, item.lit),
            (_, tok) => (tok, item.lit),
        }
    }

    fn current(&self) -> Item<'a> {
        // The lexer always terminates the list with End; never step past it.
        self.items
            .get(self.pos)
            .or(self.items.last())
            .copied()
            .unwrap_or(Item {
                tok: Tok::End,
                lit: "",
            })
    }

    fn peek(&self, ctx: Ctx) -> (Tok, &'a str) {
        Self::view(self.current(), ctx)
    }

    fn next(&mut self, ctx: Ctx) -> (Tok, &'a str) {
        let item = self.current();
        if self.pos < self.items.len() {
            self.pos += 1;
        }
        Self::view(item, ctx)
    }

    fn parse(&mut self) -> Result<Vec<Requirement>, SelectorError> {
        let mut out = Vec::new();
        loop {
            let (tok, lit) = self.peek(Ctx::Value);
            match tok {
                Tok::Ident | Tok::Bang => {
                    let r = self.requirement().map_err(|e| {
                        SelectorError::Parse(format!("unable to parse requirement: {e}"))
                    })?;
                    out.push(r);
                    let (tok, lit) = self.next(Ctx::Value);
                    match tok {
                        Tok::End => return Ok(out),
                        Tok::Comma => {
                            let (tok, lit) = self.peek(Ctx::Value);
                            if tok != Tok::Ident && tok != Tok::Bang {
                                return Err(SelectorError::Parse(format!(
                                    "found '{lit}', expected: identifier after ','"
                                )));
                            }
                        }
                        _ => {
                            return Err(SelectorError::Parse(format!(
                                "found '{lit}', expected: ',' or 'end of string'"
                            )))
                        }
                    }
                }
                Tok::End => return Ok(out),
                _ => {
                    return Err(SelectorError::Parse(format!(
                        "found '{lit}', expected: !, identifier, or 'end of string'"
                    )))
                }
            }
        }
    }

    fn requirement(&mut self) -> PResult<Requirement> {
        let (key, unary) = self.key_and_unary_operator()?;
        if let Some(op) = unary {
            return Requirement::new(key, op, Vec::new()).map_err(|e| e.to_string());
        }
        let op = self.operator()?;
        let values = match op {
            Operator::In | Operator::NotIn => self.value_set()?,
            _ => self.exact_value()?,
        };
        Requirement::new(key, op, values.into_iter().collect()).map_err(|e| e.to_string())
    }

    /// Reads `[!]KEY`. Returns the unary operator when the requirement ends
    /// here (`!key` → DoesNotExist, `key` followed by `,`/end → Exists).
    fn key_and_unary_operator(&mut self) -> PResult<(String, Option<Operator>)> {
        let (mut tok, mut lit) = self.next(Ctx::Value);
        let negated = tok == Tok::Bang;
        if negated {
            (tok, lit) = self.next(Ctx::Value);
        }
        if tok != Tok::Ident {
            return Err(format!("found '{lit}', expected: identifier"));
        }
        if let Some(e) = validate_label_key(lit, "<nil>") {
            return Err(e);
        }
        if negated {
            return Ok((lit.to_string(), Some(Operator::DoesNotExist)));
        }
        let (next, _) = self.peek(Ctx::Value);
        let unary = matches!(next, Tok::End | Tok::Comma).then_some(Operator::Exists);
        Ok((lit.to_string(), unary))
    }

    fn operator(&mut self) -> PResult<Operator> {
        let (tok, lit) = self.next(Ctx::Operator);
        Ok(match tok {
            Tok::In => Operator::In,
            Tok::NotIn => Operator::NotIn,
            Tok::Eq => Operator::Equals,
            Tok::DoubleEq => Operator::DoubleEquals,
            Tok::NotEq => Operator::NotEquals,
            Tok::Gt => Operator::GreaterThan,
            Tok::Lt => Operator::LessThan,
            _ => {
                return Err(format!(
                    "found '{lit}', expected: in, notin, =, ==, !=, gt, lt"
                ))
            }
        })
    }

    /// Reads `( v1, v2, ... )`. Empty entries (`()`, `(a,)`, `(,a)`, `(a,,b)`)
    /// stand for the empty value. The result is sorted and de-duplicated.
    fn value_set(&mut self) -> PResult<BTreeSet<String>> {
        let (tok, lit) = self.next(Ctx::Value);
        if tok != Tok::OpenPar {
            return Err(format!("found '{lit}' expected: '('"));
        }
        let (tok, lit) = self.peek(Ctx::Value);
        match tok {
            Tok::Ident | Tok::Comma => {
                let set = self.value_list()?;
                let (tok, _) = self.next(Ctx::Value);
                if tok != Tok::ClosePar {
                    return Err(format!("found '{lit}', expected: ')'"));
                }
                Ok(set)
            }
            Tok::ClosePar => {
                self.next(Ctx::Value);
                Ok(BTreeSet::from([String::new()]))
            }
            _ => Err(format!("found '{lit}', expected: ',', ')' or identifier")),
        }
    }

    /// Reads the comma-separated entries of a value set, stopping before `)`.
    fn value_list(&mut self) -> PResult<BTreeSet<String>> {
        let mut set = BTreeSet::new();
        loop {
            let (tok, lit) = self.next(Ctx::Value);
            match tok {
                Tok::Ident => {
                    set.insert(lit.to_string());
                    let (after, after_lit) = self.peek(Ctx::Value);
                    match after {
                        Tok::Comma => {}
                        Tok::ClosePar => return Ok(set),
                        _ => return Err(format!("found '{after_lit}', expected: ',' or ')'")),
                    }
                }
                Tok::Comma => {
                    if set.is_empty() {
                        // leading comma: "(,a)"
                        set.insert(String::new());
                    }
                    match self.peek(Ctx::Value).0 {
                        Tok::ClosePar => {
                            // trailing comma: "(a,)"
                            set.insert(String::new());
                            return Ok(set);
                        }
                        Tok::Comma => {
                            // doubled comma: "(a,,b)"
                            self.next(Ctx::Value);
                            set.insert(String::new());
                        }
                        _ => {}
                    }
                }
                _ => return Err(format!("found '{lit}', expected: ',', or identifier")),
            }
        }
    }

    /// Reads the single value after `=`, `==`, `!=`, `>` or `<`; a missing
    /// value (`key=` followed by `,` or end) is the empty value.
    fn exact_value(&mut self) -> PResult<BTreeSet<String>> {
        let (tok, _) = self.peek(Ctx::Value);
        if matches!(tok, Tok::End | Tok::Comma) {
            return Ok(BTreeSet::from([String::new()]));
        }
        let (tok, lit) = self.next(Ctx::Value);
        if tok == Tok::Ident {
            Ok(BTreeSet::from([lit.to_string()]))
        } else {
            Err(format!("found '{lit}', expected: identifier"))
        }
    }
}

/// Parses a selector string into requirements (in input order; the caller
/// sorts them).
pub(super) fn parse(input: &str) -> Result<Vec<Requirement>, SelectorError> {
    Parser {
        items: lex(input),
        pos: 0,
    }
    .parse()
}

#[cfg(test)]
mod tests {
    use super::{lex, Tok};

    #[test]
    fn single_tokens() {
        let cases = [
            ("", Tok::End),
            (",", Tok::Comma),
            ("notin", Tok::NotIn),
            ("in", Tok::In),
            ("=", Tok::Eq),
            ("==", Tok::DoubleEq),
            (">", Tok::Gt),
            ("<", Tok::Lt),
            ("!", Tok::Bang),
            ("!=", Tok::NotEq),
            ("(", Tok::OpenPar),
            (")", Tok::ClosePar),
            ("~", Tok::Ident),
            ("||", Tok::Ident),
        ];
        for (input, want) in cases {
            let items = lex(input);
            assert_eq!(items[0].tok, want, "{input:?}");
            assert_eq!(items[0].lit, input, "{input:?}");
        }
    }

    #[test]
    fn token_sequences() {
        use Tok::*;
        let cases: Vec<(&str, Vec<Tok>)> = vec![
            (
                "key in ( value )",
                vec![Ident, In, OpenPar, Ident, ClosePar],
            ),
            (
                "key notin ( value )",
                vec![Ident, NotIn, OpenPar, Ident, ClosePar],
            ),
            (
                "key in ( value1, value2 )",
                vec![Ident, In, OpenPar, Ident, Comma, Ident, ClosePar],
            ),
            ("key", vec![Ident]),
            ("!key", vec![Bang, Ident]),
            ("()", vec![OpenPar, ClosePar]),
            (
                "x in (),y",
                vec![Ident, In, OpenPar, ClosePar, Comma, Ident],
            ),
            (
                "== != (), = notin",
                vec![DoubleEq, NotEq, OpenPar, ClosePar, Comma, Eq, NotIn],
            ),
            ("key>2", vec![Ident, Gt, Ident]),
            ("key<1", vec![Ident, Lt, Ident]),
            ("a!==b", vec![Ident, NotEq, Eq, Ident]),
            ("a=!b", vec![Ident, Eq, Bang, Ident]),
            ("a<=b", vec![Ident, Lt, Eq, Ident]),
            ("\tk\r\n=\nv ", vec![Ident, Eq, Ident]),
        ];
        for (input, mut want) in cases {
            want.push(End);
            let got: Vec<Tok> = lex(input).iter().map(|i| i.tok).collect();
            assert_eq!(got, want, "{input:?}");
        }
    }
}
