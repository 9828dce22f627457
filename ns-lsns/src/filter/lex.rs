//! The scanner of libsmartcols' filter language, with flex's ways: the
//! longest match wins (a keyword over a name of the same length), and a
//! byte no rule matches is copied to standard output and skipped.

use super::CmpOp;

#[derive(Debug, Clone, PartialEq)]
pub enum Token {
    Open,
    Close,
    /// A lone `'`: a token the grammar does not know.
    Apostrophe,
    And,
    Or,
    Not,
    Cmp(CmpOp),
    True,
    False,
    Number(u64),
    Float(f64),
    Holder(String),
    /// A quoted string as written, quotes included.
    Str(Vec<u8>),
    /// A size that does not fit: the scanner's own message.
    InvalidNumber(String),
    End,
}

impl Token {
    /// The name a syntax error gives the token (bison's, before
    /// libsmartcols drops the first `T_` of the message).
    pub fn name(&self) -> &'static str {
        match self {
            Token::End => "end of file",
            Token::Apostrophe => "invalid token",
            Token::Number(_) => "T_NUMBER",
            Token::Str(_) => "T_STRING",
            Token::Holder(_) => "T_HOLDER",
            Token::Float(_) => "T_FLOAT",
            Token::Or => "T_OR",
            Token::And => "T_AND",
            Token::Cmp(op) => match op {
                CmpOp::Eq => "T_EQ",
                CmpOp::Ne => "T_NE",
                CmpOp::Lt => "T_LT",
                CmpOp::Le => "T_LE",
                CmpOp::Gt => "T_GT",
                CmpOp::Ge => "T_GE",
                CmpOp::Reg => "T_REG",
                CmpOp::NReg => "T_NREG",
            },
            Token::True => "T_TRUE",
            Token::False => "T_FALSE",
            Token::Not => "T_NEG",
            Token::InvalidNumber(_) => "T_INVALID_NUMBER",
            Token::Open => "'('",
            Token::Close => "')'",
        }
    }
}

/// A token and the bytes echoed while the scanner looked for it.
#[derive(Debug, Clone, PartialEq)]
pub struct Lexed {
    pub token: Token,
    pub echo: Vec<u8>,
}

fn is_id(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"_.%:/-".contains(&c)
}

const OPERATORS: [(&[u8], Token); 12] = [
    (b"&&", Token::And),
    (b"||", Token::Or),
    (b"==", Token::Cmp(CmpOp::Eq)),
    (b"!=", Token::Cmp(CmpOp::Ne)),
    (b"<=", Token::Cmp(CmpOp::Le)),
    (b">=", Token::Cmp(CmpOp::Ge)),
    (b"=~", Token::Cmp(CmpOp::Reg)),
    (b"!~", Token::Cmp(CmpOp::NReg)),
    (b"<", Token::Cmp(CmpOp::Lt)),
    (b">", Token::Cmp(CmpOp::Gt)),
    (b"!", Token::Not),
    (b"(", Token::Open),
];

fn keyword(word: &[u8]) -> Option<Token> {
    Some(match word {
        b"and" | b"AND" => Token::And,
        b"or" | b"OR" => Token::Or,
        b"not" | b"NOT" => Token::Not,
        b"eq" | b"EQ" => Token::Cmp(CmpOp::Eq),
        b"ne" | b"NE" => Token::Cmp(CmpOp::Ne),
        b"le" | b"LE" => Token::Cmp(CmpOp::Le),
        b"lt" | b"LT" => Token::Cmp(CmpOp::Lt),
        b"ge" | b"GE" => Token::Cmp(CmpOp::Ge),
        b"gt" | b"GT" => Token::Cmp(CmpOp::Gt),
        b"true" | b"TRUE" => Token::True,
        b"false" | b"FALSE" => Token::False,
        _ => return None,
    })
}

/// Every token of `text`, ending with [`Token::End`].
pub fn lex(text: &[u8]) -> Vec<Lexed> {
    let mut out = Vec::new();
    let mut echo = Vec::new();
    let mut i = 0;
    while i < text.len() {
        let c = text[i];
        if matches!(c, b' ' | b'\t' | b'\n') {
            i += 1;
            continue;
        }
        let Some((token, len)) = token_at(&text[i..]) else {
            // No rule matches: flex's default rule echoes the byte.
            echo.push(c);
            i += 1;
            continue;
        };
        out.push(Lexed {
            token,
            echo: std::mem::take(&mut echo),
        });
        i += len;
    }
    out.push(Lexed {
        token: Token::End,
        echo,
    });
    out
}

/// The token at the start of `text` and its length, if a rule matches.
fn token_at(text: &[u8]) -> Option<(Token, usize)> {
    let c = text[0];
    if c == b'"' || c == b'\'' {
        // A string ends at the same quote, on the same line; a lone `'`
        // is a token of its own, a lone `"` matches nothing.
        if let Some(end) = text[1..].iter().position(|&b| b == c || b == b'\n') {
            if text[1 + end] == c {
                return Some((Token::Str(text[..end + 2].to_vec()), end + 2));
            }
        }
        return (c == b'\'').then_some((Token::Apostrophe, 1));
    }
    if c == b')' {
        return Some((Token::Close, 1));
    }
    if let Some((op, token)) = OPERATORS.iter().find(|(op, _)| text.starts_with(op)) {
        return Some((token.clone(), op.len()));
    }
    if c.is_ascii_digit() {
        return Some(number(text));
    }
    if c.is_ascii_alphabetic() {
        let len = text.iter().take_while(|&&b| is_id(b)).count();
        let word = &text[..len];
        let token = keyword(word)
            .unwrap_or_else(|| Token::Holder(String::from_utf8_lossy(word).into_owned()));
        return Some((token, len));
    }
    None
}

/// `123`, `1.5`, or a size: `4K`, `2MiB` (powers of 1024).
fn number(text: &[u8]) -> (Token, usize) {
    let digits = text.iter().take_while(|b| b.is_ascii_digit()).count();
    let all = std::str::from_utf8(&text[..digits]).unwrap_or("0");
    if text.get(digits) == Some(&b'.') {
        let fraction = text[digits + 1..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if fraction > 0 {
            let len = digits + 1 + fraction;
            let value = std::str::from_utf8(&text[..len])
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0.0);
            return (Token::Float(value), len);
        }
    }
    if let Some(power) = text
        .get(digits)
        .and_then(|b| b"KMGTPEZY".iter().position(|s| s == b))
    {
        let len = if text.get(digits + 1..digits + 3) == Some(b"iB") {
            digits + 3
        } else {
            digits + 1
        };
        let written = String::from_utf8_lossy(&text[..len]).into_owned();
        let value = all
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(1u64.checked_shl(10 * (power as u32 + 1))?));
        return match value {
            Some(value) => (Token::Number(value), len),
            None => (
                Token::InvalidNumber(format!(
                    "\"{written}\" token error: {}",
                    super::errno_text(libc::ERANGE)
                )),
                len,
            ),
        };
    }
    // strtoumax: a number too large reads as the largest.
    (Token::Number(all.parse().unwrap_or(u64::MAX)), digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(text: &str) -> Vec<Token> {
        lex(text.as_bytes()).into_iter().map(|l| l.token).collect()
    }

    #[test]
    fn operators_keywords_and_names() {
        assert_eq!(
            tokens("a&&b or !c != 'x'"),
            [
                Token::Holder("a".into()),
                Token::And,
                Token::Holder("b".into()),
                Token::Or,
                Token::Not,
                Token::Holder("c".into()),
                Token::Cmp(CmpOp::Ne),
                Token::Str(b"'x'".to_vec()),
                Token::End
            ]
        );
        // A keyword only as a whole word, in one case.
        assert_eq!(
            tokens("andy And"),
            [
                Token::Holder("andy".into()),
                Token::Holder("And".into()),
                Token::End
            ]
        );
    }

    #[test]
    fn numbers_and_sizes() {
        assert_eq!(
            tokens("12 1.5 4K 2MiB"),
            [
                Token::Number(12),
                Token::Float(1.5),
                Token::Number(4096),
                Token::Number(2 << 20),
                Token::End
            ]
        );
        assert_eq!(
            tokens("99999999999999999999"),
            [Token::Number(u64::MAX), Token::End]
        );
        assert_eq!(
            tokens("99999999999999999999K"),
            [
                Token::InvalidNumber(
                    "\"99999999999999999999K\" token error: Numerical result out of range".into()
                ),
                Token::End
            ]
        );
        // `1.` is a number and an echoed dot.
        let lexed = lex(b"1. ");
        assert_eq!(lexed[0].token, Token::Number(1));
        assert_eq!(lexed[1].echo, b".");
    }

    #[test]
    fn unmatched_bytes_are_echoed_before_the_next_token() {
        let lexed = lex(b"A = \"x\" & \"open");
        assert_eq!(lexed[1].echo, b"=");
        assert_eq!(lexed[1].token, Token::Str(b"\"x\"".to_vec()));
        assert_eq!(lexed[2].token, Token::Holder("open".into()));
        assert_eq!(lexed[2].echo, b"&\"");
        assert_eq!(tokens("'"), [Token::Apostrophe, Token::End]);
    }
}
