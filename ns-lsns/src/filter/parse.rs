//! The grammar of libsmartcols' filters, with the messages its bison
//! parser gives. All binary operators group to the left; comparisons
//! bind tighter than `&&` and `||` (which share one level), and `!`
//! takes only what follows it up to the next operator.
//!
//! Where bison detects an error decides its message: where an operand
//! is due, nine tokens could follow, too many to list, so the message
//! names only the unexpected token; after a whole expression at the top,
//! only the end may follow ("expecting end of file"); after one inside
//! parentheses, eleven tokens may (the operators and `)`).
//!
//! The parser keeps its own stack, as bison's does, and never recurses:
//! an expression of 100,000 `!` or parentheses costs memory, not the
//! machine stack. Bison's stack holds at most 10,000 states
//! (`YYMAXDEPTH`); a deeper expression fails with its "memory
//! exhausted", counted as bison counts (one state per symbol, plus the
//! first). The result is a program for a stack machine ([`Instr`]), so
//! that evaluating it does not recurse either.

use std::fmt;

use super::lex::{Lexed, Token};
use super::regex::{Regex, RegexError};
use super::CmpOp;

/// Bison's default `YYMAXDEPTH`: the states its stack may hold.
const MAX_STATES: usize = 10_000;

#[derive(Debug)]
pub enum Param {
    Number(u64),
    Float(f64),
    /// A quoted string as written.
    Str(Vec<u8>),
    Bool(bool),
    Holder(String),
}

/// What an operand of a comparison was, for the type both sides are cast
/// to: a parameter of its own type, or an expression (a boolean).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shape {
    Number,
    Float,
    Str,
    Bool,
    /// A column: a number or a string, as the column is.
    Holder(String),
    Expression,
}

/// One step of a filter's program. Values are pushed and popped; `&&`
/// and `||` jump over their right side when the left decides.
#[derive(Debug)]
pub enum Instr {
    Push(Param),
    Not,
    /// The value on top as a boolean (the result of `&&` and `||`).
    Truth,
    /// `&&`: if the value on top is false, jump (keeping it); else pop.
    JumpIfFalse(usize),
    /// `||`: if the value on top is true, jump (keeping it); else pop.
    JumpIfTrue(usize),
    Cmp {
        op: CmpOp,
        left: Shape,
        right: Shape,
        /// For `=~` and `!~`: the right string, compiled.
        regex: Option<Regex>,
    },
}

/// What is on the parser's stack besides the operand being built.
enum Frame {
    Open,
    Not,
    /// A left side and `&&` or `||`; the jump to patch at the end.
    Logic {
        jump: usize,
    },
    /// A left side and a comparison operator.
    Cmp {
        op: CmpOp,
        left: Shape,
    },
}

impl Frame {
    /// Bison's symbols for this frame.
    fn symbols(&self) -> usize {
        match self {
            Frame::Open | Frame::Not => 1,
            Frame::Logic { .. } | Frame::Cmp { .. } => 2,
        }
    }
}

/// Where a syntax error was found.
enum Place {
    Operand,
    Top,
    Parenthesized,
}

/// Why an expression does not parse, in libsmartcols' words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyntaxError {
    /// bison's "syntax error, unexpected TOKEN", with ", expecting end of
    /// file" where only the end could come.
    Unexpected {
        token: &'static str,
        expecting_end: bool,
    },
    /// Nested deeper than bison's stack holds.
    MemoryExhausted,
    /// The scanner's message about a number.
    InvalidNumber(String),
    /// A pattern `regcomp` refuses.
    Regex(RegexError),
    /// `=~` with no string on its right, which libsmartcols reports with
    /// no message at all ("(null)").
    NoPattern,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SyntaxError::Unexpected {
                token,
                expecting_end,
            } => {
                // libsmartcols drops the first "T_" of bison's message.
                let token = token.replacen("T_", "", 1);
                write!(f, "syntax error, unexpected {token}")?;
                if *expecting_end {
                    f.write_str(", expecting end of file")?;
                }
                Ok(())
            }
            SyntaxError::MemoryExhausted => f.write_str("memory exhausted"),
            SyntaxError::InvalidNumber(message) => f.write_str(message),
            SyntaxError::Regex(error) => error.fmt(f),
            SyntaxError::NoPattern => f.write_str("(null)"),
        }
    }
}

impl std::error::Error for SyntaxError {}

fn syntax_error(token: &Token, place: Place) -> SyntaxError {
    SyntaxError::Unexpected {
        token: token.name(),
        expecting_end: matches!(place, Place::Top),
    }
}

pub struct Parser<'a> {
    tokens: &'a [Lexed],
    at: usize,
    /// The furthest token the scanner has been asked for: what it echoed
    /// up to there is all it echoed.
    pub scanned: usize,
    stack: Vec<Frame>,
    /// Bison's symbols on its stack (frames, and an operand once built).
    symbols: usize,
    /// How many `Open` frames the stack holds.
    open: usize,
    code: Vec<Instr>,
}

impl<'a> Parser<'a> {
    pub fn new(tokens: &'a [Lexed]) -> Parser<'a> {
        Parser {
            tokens,
            at: 0,
            scanned: 0,
            stack: Vec::new(),
            symbols: 0,
            open: 0,
            code: Vec::new(),
        }
    }

    fn peek(&mut self) -> &'a Token {
        self.scanned = self.scanned.max(self.at);
        &self.tokens[self.at.min(self.tokens.len() - 1)].token
    }

    /// Bison shifts a token: one more state, which must fit.
    fn shift(&mut self) -> Result<(), SyntaxError> {
        self.symbols += 1;
        if self.symbols + 1 >= MAX_STATES {
            return Err(SyntaxError::MemoryExhausted);
        }
        self.at += 1;
        Ok(())
    }

    fn push(&mut self, frame: Frame) {
        if let Frame::Open = frame {
            self.open += 1;
        }
        self.stack.push(frame);
    }

    fn pop(&mut self) -> Option<Frame> {
        let frame = self.stack.pop()?;
        self.symbols -= frame.symbols();
        if let Frame::Open = frame {
            self.open -= 1;
        }
        Some(frame)
    }

    fn place(&self) -> Place {
        if self.open > 0 {
            Place::Parenthesized
        } else {
            Place::Top
        }
    }

    /// The whole filter: an expression, then the end.
    pub fn filter(&mut self) -> Result<Vec<Instr>, SyntaxError> {
        loop {
            let shape = self.operand()?;
            if self.after_operand(shape)? {
                return Ok(std::mem::take(&mut self.code));
            }
            // An operator was shifted: another operand is due.
        }
    }

    /// Shifts `!` and `(` up to an operand, and the operand: its shape.
    fn operand(&mut self) -> Result<Shape, SyntaxError> {
        loop {
            let token = self.peek();
            let frame = match token {
                Token::Not => Frame::Not,
                Token::Open => Frame::Open,
                _ => break,
            };
            self.shift()?;
            self.push(frame);
        }
        let token = self.peek();
        let (param, shape) = match token {
            Token::Number(n) => (Param::Number(*n), Shape::Number),
            Token::Float(f) => (Param::Float(*f), Shape::Float),
            Token::Str(s) => (Param::Str(s.clone()), Shape::Str),
            Token::True => (Param::Bool(true), Shape::Bool),
            Token::False => (Param::Bool(false), Shape::Bool),
            Token::Holder(name) => (Param::Holder(name.clone()), Shape::Holder(name.clone())),
            // The scanner's message stands.
            Token::InvalidNumber(message) => {
                return Err(SyntaxError::InvalidNumber(message.clone()))
            }
            other => return Err(syntax_error(other, Place::Operand)),
        };
        self.shift()?;
        self.code.push(Instr::Push(param));
        Ok(shape)
    }

    /// With an operand on the stack: reduces what it completes, then takes
    /// the next operator (shifted, with its frame pushed: `Ok(false)`) or
    /// the end (`Ok(true)`), or fails as bison fails there.
    fn after_operand(&mut self, mut shape: Shape) -> Result<bool, SyntaxError> {
        loop {
            // `!` takes only its operand.
            while let Some(Frame::Not) = self.stack.last() {
                self.pop();
                self.code.push(Instr::Not);
                shape = Shape::Expression;
            }
            if let Some(Frame::Cmp { .. }) = self.stack.last() {
                // Reduced once bison has seen the token after it, which is
                // when the right side of `=~` is compiled.
                self.peek();
                let Some(Frame::Cmp { op, left }) = self.pop() else {
                    unreachable!("the frame on top is a comparison");
                };
                let regex = match op {
                    CmpOp::Reg | CmpOp::NReg => Some(self.compile_right()?),
                    _ => None,
                };
                self.code.push(Instr::Cmp {
                    op,
                    left,
                    right: shape,
                    regex,
                });
                shape = Shape::Expression;
                continue;
            }
            match self.peek() {
                Token::Cmp(op) => {
                    let op = *op;
                    self.shift()?;
                    self.push(Frame::Cmp { op, left: shape });
                    return Ok(false);
                }
                Token::And | Token::Or => {
                    self.reduce_logic();
                    let or = matches!(self.peek(), Token::Or);
                    self.shift()?;
                    let jump = self.code.len();
                    self.code.push(if or {
                        Instr::JumpIfTrue(0)
                    } else {
                        Instr::JumpIfFalse(0)
                    });
                    self.push(Frame::Logic { jump });
                    return Ok(false);
                }
                Token::Close if self.open > 0 => {
                    if self.reduce_logic() {
                        shape = Shape::Expression;
                    }
                    // `( expr )` is one operand once `)` is shifted; the
                    // parentheses leave its shape as it is (a column in
                    // parentheses is still a column).
                    self.shift()?;
                    self.symbols -= 1;
                    match self.pop() {
                        Some(Frame::Open) => {}
                        _ => unreachable!("logic frames were reduced down to the `(`"),
                    }
                }
                Token::End if self.open == 0 => {
                    self.reduce_logic();
                    return Ok(true);
                }
                other => return Err(syntax_error(other, self.place())),
            }
        }
    }

    /// `a && b` (or `||`) with `b` complete: `b`'s value becomes a
    /// boolean, and the jump lands after it. Whether there was one.
    fn reduce_logic(&mut self) -> bool {
        let Some(Frame::Logic { jump }) = self.stack.last() else {
            return false;
        };
        let jump = *jump;
        self.pop();
        self.code.push(Instr::Truth);
        let end = self.code.len();
        match &mut self.code[jump] {
            Instr::JumpIfFalse(to) | Instr::JumpIfTrue(to) => *to = end,
            _ => unreachable!("a logic frame points at its jump"),
        }
        true
    }

    /// The right side of `=~` is compiled; anything but a string has no
    /// text to compile, and libsmartcols reports it with no message at all.
    fn compile_right(&mut self) -> Result<Regex, SyntaxError> {
        match self.code.last() {
            Some(Instr::Push(Param::Str(text))) => {
                Regex::new(&super::unquote(text)).map_err(SyntaxError::Regex)
            }
            _ => Err(SyntaxError::NoPattern),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::lex::lex;

    fn parse(text: &str) -> Result<Vec<Instr>, SyntaxError> {
        let tokens = lex(text.as_bytes());
        Parser::new(&tokens).filter()
    }

    fn nested(prefix: &str, n: usize, core: &str, suffix: &str) -> String {
        format!("{}{core}{}", prefix.repeat(n), suffix.repeat(n))
    }

    #[test]
    fn depth_is_bisons_to_the_state() {
        // The largest nestings util-linux 2.42.4's lsns accepts, and one
        // more: measured with its binary.
        for (prefix, core, suffix, most) in [
            ("!", "NS", "", 9997),
            ("(", "NS", ")", 9996),
            ("(", "!NS == 1", ")", 9995),
            ("(!", "NS", ")", 4998),
            ("(NS == 1 && ", "NS", ")", 3332),
        ] {
            let ok = nested(prefix, most, core, suffix);
            assert!(parse(&ok).is_ok(), "{prefix:?} x {most}");
            let deep = nested(prefix, most + 1, core, suffix);
            assert_eq!(
                parse(&deep).unwrap_err(),
                SyntaxError::MemoryExhausted,
                "{prefix:?} x {}",
                most + 1
            );
        }
    }

    #[test]
    fn a_hundred_thousand_operators_are_an_error_not_a_crash() {
        for text in [
            nested("!", 100_000, "NS", ""),
            nested("(", 100_000, "NS", ")"),
            nested("(", 100_000, "", ""),
            nested("NS && ", 100_000, "NS", ""),
        ] {
            let result = parse(&text);
            // A long flat chain is fine; nesting is not.
            if text.starts_with("NS && ") {
                assert!(result.is_ok());
            } else {
                assert_eq!(result.unwrap_err().to_string(), "memory exhausted");
            }
        }
    }
}
