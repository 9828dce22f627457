//! The `-Q/--filter` expression language of util-linux 2.41
//! (libsmartcols filters): column names, numbers, 'strings' or "strings",
//! `true`/`false`; comparisons `== != < <= > >=` (or `eq ne lt le gt ge`),
//! regular expressions `=~ !~` (POSIX extended), `&& || !` (or `and or
//! not`) and parentheses. As in libsmartcols' grammar, `&&` and `||` have
//! the same precedence and group to the left, and `!` binds like a
//! comparison.

use std::ffi::CString;
use std::fmt;

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Open,
    Close,
    And,
    Or,
    Not,
    Cmp(CmpOp),
    True,
    False,
    Number(u64),
    Float(f64),
    Holder(String),
    Str(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Reg,
    NReg,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    Number(u64),
    Float(f64),
    Str(String),
    Bool(bool),
    Holder(String),
}

#[derive(Debug)]
pub enum Expr {
    Param(Param),
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Cmp(CmpOp, Box<Expr>, Box<Expr>),
    Regex {
        negate: bool,
        left: Box<Expr>,
        regex: Regex,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub String);

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn is_id_start(c: u8) -> bool {
    c.is_ascii_alphabetic()
}

fn is_id(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"_.%:/-".contains(&c)
}

fn lex(text: &str) -> Result<Vec<Token>, ParseError> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let two = bytes.get(i..i + 2).unwrap_or(&[]);
        let (token, len) = match c {
            b' ' | b'\t' | b'\n' => {
                i += 1;
                continue;
            }
            b'(' => (Token::Open, 1),
            b')' => (Token::Close, 1),
            b'"' | b'\'' => {
                let end = bytes[i + 1..]
                    .iter()
                    .position(|&b| b == c || b == b'\n')
                    .filter(|&end| bytes[i + 1 + end] == c)
                    .ok_or_else(|| ParseError("syntax error".into()))?;
                (Token::Str(text[i + 1..i + 1 + end].to_string()), end + 2)
            }
            _ if two == b"&&" => (Token::And, 2),
            _ if two == b"||" => (Token::Or, 2),
            _ if two == b"==" => (Token::Cmp(CmpOp::Eq), 2),
            _ if two == b"!=" => (Token::Cmp(CmpOp::Ne), 2),
            _ if two == b"<=" => (Token::Cmp(CmpOp::Le), 2),
            _ if two == b">=" => (Token::Cmp(CmpOp::Ge), 2),
            _ if two == b"=~" => (Token::Cmp(CmpOp::Reg), 2),
            _ if two == b"!~" => (Token::Cmp(CmpOp::NReg), 2),
            b'<' => (Token::Cmp(CmpOp::Lt), 1),
            b'>' => (Token::Cmp(CmpOp::Gt), 1),
            b'!' => (Token::Not, 1),
            b'0'..=b'9' => lex_number(&text[i..])?,
            _ if is_id_start(c) => {
                let len = bytes[i..].iter().take_while(|&&b| is_id(b)).count();
                let word = &text[i..i + len];
                let token = match word {
                    "and" | "AND" => Token::And,
                    "or" | "OR" => Token::Or,
                    "not" | "NOT" => Token::Not,
                    "eq" | "EQ" => Token::Cmp(CmpOp::Eq),
                    "ne" | "NE" => Token::Cmp(CmpOp::Ne),
                    "le" | "LE" => Token::Cmp(CmpOp::Le),
                    "lt" | "LT" => Token::Cmp(CmpOp::Lt),
                    "ge" | "GE" => Token::Cmp(CmpOp::Ge),
                    "gt" | "GT" => Token::Cmp(CmpOp::Gt),
                    "true" | "TRUE" => Token::True,
                    "false" | "FALSE" => Token::False,
                    _ => Token::Holder(word.to_string()),
                };
                (token, len)
            }
            _ => return Err(ParseError("syntax error".into())),
        };
        tokens.push(token);
        i += len;
    }
    Ok(tokens)
}

/// `123`, `1.5`, or a size such as `4K` / `2MiB` (powers of 1024).
fn lex_number(text: &str) -> Result<(Token, usize), ParseError> {
    let bytes = text.as_bytes();
    let digits = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    if bytes.get(digits) == Some(&b'.') {
        let frac = bytes[digits + 1..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if frac > 0 {
            let len = digits + 1 + frac;
            let value = text[..len]
                .parse()
                .map_err(|_| ParseError("syntax error".into()))?;
            return Ok((Token::Float(value), len));
        }
    }
    let number: u64 = text[..digits].parse().unwrap_or(u64::MAX);
    if let Some(pos) = bytes
        .get(digits)
        .and_then(|b| b"KMGTPEZY".iter().position(|s| s == b))
    {
        let len = if bytes.get(digits + 1..digits + 3) == Some(b"iB") {
            digits + 3
        } else {
            digits + 1
        };
        let value = (number as u128) << (10 * (pos as u32 + 1)).min(100);
        if value > u64::MAX as u128 {
            return Err(ParseError(format!("\"{}\" number too large", &text[..len])));
        }
        return Ok((Token::Number(value as u64), len));
    }
    Ok((Token::Number(number), digits))
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    fn expr(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.comparison()?;
        loop {
            let or = match self.peek() {
                Some(Token::And) => false,
                Some(Token::Or) => true,
                _ => return Ok(left),
            };
            self.at += 1;
            let right = self.comparison()?;
            left = if or {
                Expr::Or(Box::new(left), Box::new(right))
            } else {
                Expr::And(Box::new(left), Box::new(right))
            };
        }
    }

    fn comparison(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.unary()?;
        while let Some(Token::Cmp(op)) = self.peek().cloned() {
            self.at += 1;
            let right = self.unary()?;
            left = match op {
                CmpOp::Reg | CmpOp::NReg => {
                    let pattern = match right {
                        Expr::Param(Param::Str(pattern)) => pattern,
                        _ => return Err(ParseError("regex: not a string".into())),
                    };
                    Expr::Regex {
                        negate: op == CmpOp::NReg,
                        left: Box::new(left),
                        regex: Regex::new(&pattern)?,
                    }
                }
                _ => Expr::Cmp(op, Box::new(left), Box::new(right)),
            };
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        match self.next() {
            Some(Token::Not) => Ok(Expr::Not(Box::new(self.unary()?))),
            Some(Token::Open) => {
                let inner = self.expr()?;
                match self.next() {
                    Some(Token::Close) => Ok(inner),
                    _ => Err(ParseError("syntax error".into())),
                }
            }
            Some(Token::Number(n)) => Ok(Expr::Param(Param::Number(n))),
            Some(Token::Float(f)) => Ok(Expr::Param(Param::Float(f))),
            Some(Token::Str(s)) => Ok(Expr::Param(Param::Str(s))),
            Some(Token::True) => Ok(Expr::Param(Param::Bool(true))),
            Some(Token::False) => Ok(Expr::Param(Param::Bool(false))),
            Some(Token::Holder(h)) => Ok(Expr::Param(Param::Holder(h))),
            _ => Err(ParseError("syntax error".into())),
        }
    }
}

/// A compiled POSIX extended regular expression.
pub struct Regex {
    compiled: Box<libc::regex_t>,
}

impl fmt::Debug for Regex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Regex")
    }
}

impl Regex {
    fn new(pattern: &str) -> Result<Regex, ParseError> {
        let c_pattern =
            CString::new(pattern).map_err(|_| ParseError("regex: NUL in pattern".into()))?;
        // SAFETY: regex_t is plain data; regcomp initialises it.
        let mut compiled: Box<libc::regex_t> = Box::new(unsafe { std::mem::zeroed() });
        // SAFETY: valid pointers; on success regfree is called on drop.
        let rc = unsafe {
            libc::regcomp(
                &mut *compiled,
                c_pattern.as_ptr(),
                libc::REG_EXTENDED | libc::REG_NOSUB,
            )
        };
        if rc != 0 {
            return Err(ParseError(format!("regex: failed to compile '{pattern}'")));
        }
        Ok(Regex { compiled })
    }

    fn is_match(&self, text: &[u8]) -> bool {
        let Ok(text) = CString::new(text.to_vec()) else {
            return false;
        };
        // SAFETY: a compiled regex and a C string; no match offsets wanted.
        unsafe { libc::regexec(&*self.compiled, text.as_ptr(), 0, std::ptr::null_mut(), 0) == 0 }
    }
}

impl Drop for Regex {
    fn drop(&mut self) {
        // SAFETY: compiled by regcomp, freed once.
        unsafe { libc::regfree(&mut *self.compiled) }
    }
}

/// A parsed filter.
#[derive(Debug)]
pub struct Filter {
    root: Expr,
}

/// A value from a row: the cell's text and whether its column is numeric.
pub struct Cell<'a> {
    pub data: Option<&'a [u8]>,
    pub number: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum Value {
    Empty,
    Number(u64),
    Float(f64),
    Str(Vec<u8>),
    Bool(bool),
}

impl Filter {
    pub fn parse(text: &str) -> Result<Filter, ParseError> {
        let tokens = lex(text)?;
        let mut parser = Parser { tokens, at: 0 };
        let root = parser.expr()?;
        if parser.at != parser.tokens.len() {
            return Err(ParseError("syntax error".into()));
        }
        Ok(Filter { root })
    }

    /// The column names the expression refers to, in order, once each.
    pub fn holders(&self) -> Vec<String> {
        fn walk(expr: &Expr, out: &mut Vec<String>) {
            match expr {
                Expr::Param(Param::Holder(name)) => {
                    if !out.contains(name) {
                        out.push(name.clone());
                    }
                }
                Expr::Param(_) => {}
                Expr::Not(inner) => walk(inner, out),
                Expr::And(a, b) | Expr::Or(a, b) | Expr::Cmp(_, a, b) => {
                    walk(a, out);
                    walk(b, out);
                }
                Expr::Regex { left, .. } => walk(left, out),
            }
        }
        let mut out = Vec::new();
        walk(&self.root, &mut out);
        out
    }

    /// Evaluates the filter for one row; `lookup` gives a holder's cell.
    pub fn matches<'a>(&self, lookup: &dyn Fn(&str) -> Cell<'a>) -> bool {
        truth(&eval(&self.root, lookup))
    }
}

fn param_value<'a>(param: &Param, lookup: &dyn Fn(&str) -> Cell<'a>) -> Value {
    match param {
        Param::Number(n) => Value::Number(*n),
        Param::Float(f) => Value::Float(*f),
        Param::Str(s) => Value::Str(s.as_bytes().to_vec()),
        Param::Bool(b) => Value::Bool(*b),
        Param::Holder(name) => {
            let cell = lookup(name);
            match cell.data {
                None => Value::Empty,
                Some([]) => Value::Empty,
                Some(data) if cell.number => std::str::from_utf8(data)
                    .ok()
                    .and_then(|text| text.parse().ok())
                    .map_or_else(|| Value::Str(data.to_vec()), Value::Number),
                Some(data) => Value::Str(data.to_vec()),
            }
        }
    }
}

fn truth(value: &Value) -> bool {
    match value {
        Value::Empty => false,
        Value::Number(n) => *n != 0,
        Value::Float(f) => *f != 0.0,
        Value::Str(s) => !s.is_empty(),
        Value::Bool(b) => *b,
    }
}

fn eval<'a>(expr: &Expr, lookup: &dyn Fn(&str) -> Cell<'a>) -> Value {
    match expr {
        Expr::Param(param) => param_value(param, lookup),
        Expr::Not(inner) => Value::Bool(!truth(&eval(inner, lookup))),
        Expr::And(a, b) => Value::Bool(truth(&eval(a, lookup)) && truth(&eval(b, lookup))),
        Expr::Or(a, b) => Value::Bool(truth(&eval(a, lookup)) || truth(&eval(b, lookup))),
        Expr::Regex {
            negate,
            left,
            regex,
        } => {
            let matched = match eval(left, lookup) {
                Value::Str(s) => regex.is_match(&s),
                Value::Number(n) => regex.is_match(n.to_string().as_bytes()),
                _ => false,
            };
            Value::Bool(matched != *negate)
        }
        Expr::Cmp(op, a, b) => Value::Bool(compare(*op, &eval(a, lookup), &eval(b, lookup))),
    }
}

fn compare(op: CmpOp, left: &Value, right: &Value) -> bool {
    use std::cmp::Ordering;
    let ordering: Option<Ordering> = match (left, right) {
        (Value::Empty, Value::Empty) => Some(Ordering::Equal),
        (Value::Empty, _) | (_, Value::Empty) => None,
        (Value::Number(a), Value::Number(b)) => Some(a.cmp(b)),
        (Value::Float(a), Value::Float(b)) => a.partial_cmp(b),
        (Value::Number(a), Value::Float(b)) => (*a as f64).partial_cmp(b),
        (Value::Float(a), Value::Number(b)) => a.partial_cmp(&(*b as f64)),
        (Value::Bool(a), b) => Some(a.cmp(&truth(b))),
        (a, Value::Bool(b)) => Some(truth(a).cmp(b)),
        (a, b) => Some(as_bytes(a).cmp(&as_bytes(b))),
    };
    match (op, ordering) {
        (CmpOp::Ne, None) => true,
        (_, None) => false,
        (CmpOp::Eq, Some(o)) => o == Ordering::Equal,
        (CmpOp::Ne, Some(o)) => o != Ordering::Equal,
        (CmpOp::Lt, Some(o)) => o == Ordering::Less,
        (CmpOp::Le, Some(o)) => o != Ordering::Greater,
        (CmpOp::Gt, Some(o)) => o == Ordering::Greater,
        (CmpOp::Ge, Some(o)) => o != Ordering::Less,
        (CmpOp::Reg | CmpOp::NReg, Some(_)) => false,
    }
}

fn as_bytes(value: &Value) -> Vec<u8> {
    match value {
        Value::Str(s) => s.clone(),
        Value::Number(n) => n.to_string().into_bytes(),
        Value::Float(f) => f.to_string().into_bytes(),
        Value::Bool(b) => b.to_string().into_bytes(),
        Value::Empty => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row<'a>(name: &str) -> Cell<'a> {
        let (data, number): (&'static [u8], bool) = match name.to_ascii_uppercase().as_str() {
            "TYPE" => (b"net", false),
            "PID" => (b"42", true),
            "NPROCS" => (b"3", true),
            "COMMAND" => (b"sleep 100", false),
            "NSFS" => (b"", false),
            _ => (b"", false),
        };
        Cell {
            data: Some(data),
            number,
        }
    }

    fn holds(text: &str) -> bool {
        Filter::parse(text).unwrap().matches(&row)
    }

    #[test]
    fn comparisons() {
        assert!(holds("TYPE == 'net'"));
        assert!(holds("TYPE eq \"net\""));
        assert!(!holds("TYPE != 'net'"));
        assert!(holds("PID > 7"), "numbers compare as numbers, not text");
        assert!(holds("PID >= 42 && PID <= 42"));
        assert!(holds("PID lt 100"));
        assert!(holds("NPROCS == 3.0"));
        assert!(holds("NPROCS < 1K"));
    }

    #[test]
    fn logic_and_grouping() {
        assert!(holds("TYPE == 'mnt' || PID == 42"));
        assert!(holds("!(TYPE == 'mnt')"));
        // `!` binds like a comparison: this is (!TYPE) == 'mnt'.
        assert!(!holds("not TYPE == 'mnt'"));
        // && and || share one precedence and group to the left.
        assert!(!holds("PID == 42 || TYPE == 'x' && PID == 1"));
        assert!(holds("PID == 42 || (TYPE == 'x' && PID == 1)"));
    }

    #[test]
    fn regular_expressions() {
        assert!(holds("COMMAND =~ '^sleep'"));
        assert!(holds("COMMAND !~ 'bash'"));
        assert!(holds("TYPE =~ 'n.t'"));
    }

    #[test]
    fn empty_cells() {
        assert!(!holds("NSFS"));
        assert!(holds("!NSFS"));
        assert!(!holds("NSFS == 'x'"));
        assert!(holds("NSFS != 'x'"));
    }

    #[test]
    fn holders_are_listed_once() {
        let filter = Filter::parse("PID > 1 && (pid < 9 || TYPE == 'net')").unwrap();
        assert_eq!(filter.holders(), ["PID", "pid", "TYPE"]);
    }

    #[test]
    fn malformed_expressions() {
        for text in [
            "",
            "(",
            "PID ==",
            "PID == 1)",
            "'open",
            "PID @ 1",
            "== 1",
            "COMMAND =~ 1",
            "COMMAND =~ '('",
        ] {
            assert!(Filter::parse(text).is_err(), "{text:?} parsed");
        }
        assert!(Filter::parse("99999999999999999999E").is_err());
    }
}
