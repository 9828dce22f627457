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

use super::lex::{Lexed, Token};
use super::regex::Regex;
use super::CmpOp;

#[derive(Debug)]
pub enum Param {
    Number(u64),
    Float(f64),
    /// A quoted string as written; for the right side of `=~`, with its
    /// compiled expression.
    Str(Vec<u8>, Option<Regex>),
    Bool(bool),
    Holder(String),
}

#[derive(Debug)]
pub enum Node {
    Param(Param),
    Not(Box<Node>),
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Cmp(CmpOp, Box<Node>, Box<Node>),
}

pub struct Parser<'a> {
    tokens: &'a [Lexed],
    at: usize,
    /// The furthest token the scanner has been asked for: what it echoed
    /// up to there is all it echoed.
    pub scanned: usize,
}

/// Where a syntax error was found.
enum Place {
    Operand,
    Top,
    Parenthesized,
}

fn syntax_error(token: &Token, place: Place) -> String {
    let mut message = format!("syntax error, unexpected {}", token.name());
    if let Place::Top = place {
        message.push_str(", expecting end of file");
    }
    // libsmartcols drops the first "T_" of bison's message.
    if let Some(at) = message.find("T_") {
        message.replace_range(at..at + 2, "");
    }
    message
}

impl<'a> Parser<'a> {
    pub fn new(tokens: &'a [Lexed]) -> Parser<'a> {
        Parser {
            tokens,
            at: 0,
            scanned: 0,
        }
    }

    fn peek(&mut self) -> &'a Token {
        self.scanned = self.scanned.max(self.at);
        &self.tokens[self.at.min(self.tokens.len() - 1)].token
    }

    /// The whole filter: an expression, then the end.
    pub fn filter(&mut self) -> Result<Node, String> {
        let node = self.expr(Place::Top)?;
        match self.peek() {
            Token::End => Ok(node),
            other => Err(syntax_error(other, Place::Top)),
        }
    }

    fn expr(&mut self, place: Place) -> Result<Node, String> {
        let mut left = self.comparison()?;
        loop {
            let or = match self.peek() {
                Token::And => false,
                Token::Or => true,
                Token::End if matches!(place, Place::Top) => return Ok(left),
                Token::Close if matches!(place, Place::Parenthesized) => return Ok(left),
                other => return Err(syntax_error(other, place)),
            };
            self.at += 1;
            let right = self.comparison()?;
            left = if or {
                Node::Or(Box::new(left), Box::new(right))
            } else {
                Node::And(Box::new(left), Box::new(right))
            };
        }
    }

    fn comparison(&mut self) -> Result<Node, String> {
        let mut left = self.operand()?;
        while let Token::Cmp(op) = *self.peek() {
            self.at += 1;
            let mut right = self.operand()?;
            if matches!(op, CmpOp::Reg | CmpOp::NReg) {
                // Compiled when the comparison is reduced, which bison
                // does once it has seen the token after it.
                self.peek();
                compile(&mut right)?;
            }
            left = Node::Cmp(op, Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn operand(&mut self) -> Result<Node, String> {
        let token = self.peek();
        self.at += 1;
        let param = match token {
            Token::Not => return Ok(Node::Not(Box::new(self.operand()?))),
            Token::Open => {
                let inner = self.expr(Place::Parenthesized)?;
                // expr() stops only at the `)`.
                self.at += 1;
                return Ok(inner);
            }
            Token::Number(n) => Param::Number(*n),
            Token::Float(f) => Param::Float(*f),
            Token::Str(s) => Param::Str(s.clone(), None),
            Token::True => Param::Bool(true),
            Token::False => Param::Bool(false),
            Token::Holder(name) => Param::Holder(name.clone()),
            // The scanner's message stands.
            Token::InvalidNumber(message) => return Err(message.clone()),
            other => return Err(syntax_error(other, Place::Operand)),
        };
        Ok(Node::Param(param))
    }
}

/// The right side of `=~` is compiled; anything but a string has no text
/// to compile, and libsmartcols reports it with no message at all.
fn compile(right: &mut Node) -> Result<(), String> {
    match right {
        Node::Param(Param::Str(text, regex)) => {
            *regex = Some(Regex::new(&super::unquote(text))?);
            Ok(())
        }
        _ => Err("(null)".to_string()),
    }
}
