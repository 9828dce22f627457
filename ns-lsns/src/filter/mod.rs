//! The `-Q/--filter` expressions of util-linux 2.41 (libsmartcols
//! filters): column names, numbers (`12`, `1.5`, sizes such as `4K`),
//! 'strings' or "strings", `true`/`false`; comparisons `== != < <= > >=`
//! (or `eq ne lt le gt ge`), regular expressions `=~ !~` (POSIX
//! extended), `&& || !` (or `and or not`) and parentheses.
//!
//! Compatibility reaches the corners users meet: bison's syntax error
//! messages (`parse`), the bytes the scanner echoes to standard output
//! when no rule matches them (`lex`), and the typed comparisons whose
//! impossible casts end the listing with an error (`eval`).

mod eval;
mod lex;
mod parse;
mod regex;

use std::fmt;

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

/// A filter that does not parse: the message after `failed to parse
/// "EXPR": `, and the bytes the scanner echoed to standard output before
/// it stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub error: parse::SyntaxError,
    pub echo: Vec<u8>,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error.fmt(f)
    }
}

/// A parsed filter; an empty expression matches every row.
#[derive(Debug)]
pub struct Filter {
    /// The expression as a stack machine's program (empty: no filter).
    code: Vec<parse::Instr>,
    /// Bytes the scanner echoed to standard output.
    pub echo: Vec<u8>,
}

/// A value from a row: the cell's text (`None` for an empty cell) and
/// whether its column is numeric.
pub struct Cell<'a> {
    pub data: Option<&'a [u8]>,
    pub number: bool,
}

impl Filter {
    pub fn parse(text: &[u8]) -> Result<Filter, ParseError> {
        if text.is_empty() {
            return Ok(Filter {
                code: Vec::new(),
                echo: Vec::new(),
            });
        }
        let tokens = lex::lex(text);
        let mut parser = parse::Parser::new(&tokens);
        let result = parser.filter();
        let echo = tokens[..=parser.scanned.min(tokens.len() - 1)]
            .iter()
            .flat_map(|lexed| lexed.echo.iter().copied())
            .collect();
        match result {
            Ok(code) => Ok(Filter { code, echo }),
            Err(error) => Err(ParseError { error, echo }),
        }
    }

    /// The column names the expression refers to, in order, once each.
    pub fn holders(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for instr in &self.code {
            if let parse::Instr::Push(parse::Param::Holder(name)) = instr {
                if !out.contains(name) {
                    out.push(name.clone());
                }
            }
        }
        out
    }

    /// Whether a row passes; `lookup` gives a column's cell. An error is
    /// the errno util-linux reports ("failed to apply filter").
    pub fn matches<'a>(&self, lookup: &dyn Fn(&str) -> Cell<'a>) -> Result<bool, i32> {
        if self.code.is_empty() {
            return Ok(true);
        }
        eval::Row { lookup }.run(&self.code)
    }

    /// Whether the filter is the empty one (every row passes).
    pub fn is_empty(&self) -> bool {
        self.code.is_empty()
    }
}

/// libsmartcols' string data: a leading quote is dropped, with the last
/// byte if it is the same quote, then blanks at both ends.
fn unquote(data: &[u8]) -> Vec<u8> {
    let mut text = match data.first() {
        Some(&quote @ (b'"' | b'\'')) => {
            let mut end = data.len();
            if data.len() > 1 && data[end - 1] == quote {
                end -= 1;
            }
            data.get(1..end).unwrap_or_default()
        }
        _ => data,
    };
    while let [first, rest @ ..] = text {
        if !first.is_ascii_whitespace() && *first != 0x0b {
            break;
        }
        text = rest;
    }
    while let [rest @ .., last] = text {
        if !last.is_ascii_whitespace() && *last != 0x0b {
            break;
        }
        text = rest;
    }
    text.to_vec()
}

/// glibc's text for the errors a filter reports.
pub fn errno_text(errno: i32) -> String {
    ns_sys::strerror(errno).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row<'a>(name: &str) -> Cell<'a> {
        let (data, number): (Option<&'static [u8]>, bool) = match name.to_ascii_uppercase().as_str()
        {
            "TYPE" => (Some(b"net"), false),
            "PID" => (Some(b"42"), true),
            "PPID" => (None, true),
            "NPROCS" => (Some(b"3"), true),
            "COMMAND" => (Some(b"sleep 100"), false),
            "NETNSID" => (Some(b"unassigned"), false),
            _ => (None, false),
        };
        Cell { data, number }
    }

    fn holds(text: &str) -> bool {
        Filter::parse(text.as_bytes())
            .unwrap()
            .matches(&row)
            .unwrap()
    }

    fn parse_error(text: &str) -> String {
        Filter::parse(text.as_bytes()).unwrap_err().to_string()
    }

    #[test]
    fn comparisons() {
        assert!(holds("TYPE == 'net'"));
        assert!(holds("TYPE eq \" net \""), "strings are trimmed");
        assert!(!holds("TYPE != 'net'"));
        assert!(holds("PID > 7"), "numbers compare as numbers, not text");
        assert!(holds("PID >= 42 && PID <= 42"));
        assert!(holds("PID lt 100"));
        assert!(holds("NPROCS == 3.0"));
        assert!(holds("NPROCS < 1K"));
        assert!(
            holds("PID == '42'"),
            "a string literal makes it a string comparison"
        );
        assert!(holds("TYPE == 'net' == true"));
        assert!(holds(""), "the empty filter holds");
    }

    #[test]
    fn logic_and_grouping() {
        assert!(holds("TYPE == 'mnt' || PID == 42"));
        assert!(holds("!(TYPE == 'mnt')"));
        // `!` takes only its operand: this is (!TYPE) == 'mnt', false ==
        // false once 'mnt' is cast to the boolean side's type ('yes'
        // would be true).
        assert!(holds("not TYPE == 'mnt'"));
        assert!(!holds("not TYPE == 'yes'"));
        // && and || share one precedence and group to the left.
        assert!(!holds("PID == 42 || TYPE == 'x' && PID == 1"));
        assert!(holds("PID == 42 || (TYPE == 'x' && PID == 1)"));
    }

    #[test]
    fn regular_expressions() {
        assert!(holds("COMMAND =~ '^sleep'"));
        assert!(holds("COMMAND !~ 'bash'"));
        assert!(holds("PID =~ '^4'"), "a number column matches as text");
    }

    #[test]
    fn empty_cells() {
        assert!(!holds("NSFS"));
        assert!(holds("!NSFS"));
        assert!(!holds("NSFS == 'x'"));
        assert!(holds("NSFS != 'x'"));
        // An empty number compares false, even with !=.
        assert!(!holds("PPID != 1"));
    }

    #[test]
    fn impossible_casts_are_errors() {
        let filter = Filter::parse(b"NETNSID == 7").unwrap();
        assert_eq!(filter.matches(&row), Err(libc::EINVAL));
        let filter = Filter::parse(b"TYPE == 'x' && NETNSID == 7").unwrap();
        assert_eq!(
            filter.matches(&row),
            Ok(false),
            "&& stops at the first false"
        );
    }

    #[test]
    fn holders_are_listed_once() {
        let filter = Filter::parse(b"PID > 1 && (pid < 9 || TYPE == 'net')").unwrap();
        assert_eq!(filter.holders(), ["PID", "pid", "TYPE"]);
    }

    #[test]
    fn syntax_errors_as_bison_words_them() {
        assert_eq!(parse_error("NS =="), "syntax error, unexpected end of file");
        assert_eq!(parse_error(" "), "syntax error, unexpected end of file");
        assert_eq!(parse_error("== 1"), "syntax error, unexpected EQ");
        assert_eq!(parse_error(")"), "syntax error, unexpected ')'");
        assert_eq!(
            parse_error("TYPE 'x'"),
            "syntax error, unexpected STRING, expecting end of file"
        );
        assert_eq!(
            parse_error("TYPE == 'x')"),
            "syntax error, unexpected ')', expecting end of file"
        );
        assert_eq!(parse_error("(TYPE 'x'"), "syntax error, unexpected STRING");
        assert_eq!(parse_error("'"), "syntax error, unexpected invalid token");
        assert_eq!(parse_error("TYPE =~ NS"), "(null)");
        assert_eq!(parse_error("TYPE =~ '('"), "Unmatched ( or \\(");
        assert_eq!(
            parse_error("1 == 99999999999999999999K"),
            "\"99999999999999999999K\" token error: Numerical result out of range"
        );
    }

    #[test]
    fn deep_expressions_evaluate_without_recursion() {
        // As deep as bison allows, on a test thread's small stack.
        let bangs = format!("{}(TYPE == 'net')", "!".repeat(9994));
        assert!(holds(&bangs), "an even number of ! cancels out");
        let bangs = format!("{}NSFS", "!".repeat(9997));
        assert!(holds(&bangs), "an odd number of ! negates");
        let parens = format!("{}PID == 42{}", "(".repeat(9995), ")".repeat(9995));
        assert!(holds(&parens));
        let chain = format!("{}PID == 42", "PID == 1 || ".repeat(100_000));
        assert!(holds(&chain));
        let error = Filter::parse("!".repeat(100_000).as_bytes()).unwrap_err();
        assert_eq!(error.to_string(), "memory exhausted");
    }

    #[test]
    fn values_of_logic_and_parentheses() {
        // `&&` and `||` give booleans (true is 1 as a number); a column in
        // parentheses is still a column.
        assert!(holds("(PID && TYPE) == 1"));
        assert!(holds("(PID) > 7"));
        assert!(holds("('net') == TYPE"));
        assert!(!holds("(NSFS || PPID) == 1"));
    }

    #[test]
    fn echoed_bytes_stop_where_the_parser_did() {
        assert_eq!(Filter::parse(b"PID >= 1 &").unwrap().echo, b"&");
        let error = Filter::parse(b"TYPE = 'x' = ").unwrap_err();
        // The error is at 'x': the second `=` was never scanned.
        assert_eq!(error.echo, b"=");
    }

    #[test]
    fn quotes_and_blanks() {
        assert_eq!(unquote(b"\" a \""), b"a");
        assert_eq!(unquote(b"'x"), b"x");
        assert_eq!(unquote(b"\""), b"");
        assert_eq!(unquote(b"  plain "), b"plain");
    }
}
