//! Evaluating a filter for one row, with libsmartcols' types: each side
//! of a comparison is cast to one type, guessed from both sides (a
//! literal's type over a column's, a float over an integer), and a cast
//! that cannot be made is an error that ends the listing.

use super::parse::{Instr, Param, Shape};
use super::regex::Regex;
use super::{unquote, Cell, CmpOp};

/// An error of one row's evaluation: the errno util-linux reports.
pub type Errno = i32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Type {
    Str,
    U64,
    Float,
    Bool,
}

#[derive(Debug, Clone, PartialEq)]
enum Data {
    /// `None`: no text at all (an empty cell).
    Str(Option<Vec<u8>>),
    U64(u64),
    Float(f64),
    Bool(bool),
}

/// A value and whether it came from an empty cell: numbers, floats and
/// booleans from an empty cell compare false with anything.
#[derive(Debug, Clone, PartialEq)]
struct Value {
    data: Data,
    empty: bool,
}

impl Data {
    fn kind(&self) -> Type {
        match self {
            Data::Str(_) => Type::Str,
            Data::U64(_) => Type::U64,
            Data::Float(_) => Type::Float,
            Data::Bool(_) => Type::Bool,
        }
    }
}

impl Value {
    fn kind(&self) -> Type {
        self.data.kind()
    }

    /// String data as libsmartcols stores it (unquoted and trimmed).
    fn text(data: Option<&[u8]>) -> Value {
        Value {
            data: Data::Str(data.map(unquote)),
            empty: data.is_none(),
        }
    }

    fn of(data: Data) -> Value {
        Value { data, empty: false }
    }

    /// A copy made to be cast: it is empty only if it has no text.
    fn copied(&self) -> Value {
        match &self.data {
            Data::Str(text) => Value::text(text.as_deref()),
            data => Value::of(data.clone()),
        }
    }

    fn cast(mut self, to: Type) -> Result<Value, Errno> {
        self.data = match (self.data, to) {
            (data, to) if data.kind() == to => data,
            (Data::Str(text), Type::U64) => Data::U64(match text {
                Some(text) => str_to_u64(&text)?,
                None => 0,
            }),
            (Data::Str(text), Type::Float) => Data::Float(match text {
                Some(text) => str_to_float(&text)?,
                None => 0.0,
            }),
            (Data::Str(text), _) => Data::Bool(text.is_some_and(|t| is_yes(&t))),
            (Data::U64(n), Type::Str) => Data::Str(Some(n.to_string().into_bytes())),
            (Data::U64(n), Type::Float) => Data::Float(n as f64),
            (Data::U64(n), _) => Data::Bool(n > 0),
            (Data::Float(f), Type::Str) => Data::Str(Some(format_g(f))),
            (Data::Float(f), Type::U64) => Data::U64(f as u64),
            (Data::Float(f), _) => Data::Bool(f > 0.0),
            (Data::Bool(b), Type::Str) => {
                Data::Str(Some(if b { &b"true"[..] } else { b"false" }.to_vec()))
            }
            (Data::Bool(b), Type::U64) => Data::U64(u64::from(b)),
            (Data::Bool(b), _) => Data::Float(if b { 1.0 } else { 0.0 }),
        };
        Ok(self)
    }

    fn truth(&self) -> bool {
        if self.empty {
            return false;
        }
        match &self.data {
            Data::Str(text) => text.as_ref().is_some_and(|t| !t.is_empty()),
            Data::U64(n) => *n != 0,
            Data::Float(f) => *f != 0.0,
            Data::Bool(b) => *b,
        }
    }
}

/// `ul_strtou64`: decimal, no sign below zero, nothing after.
fn str_to_u64(text: &[u8]) -> Result<u64, Errno> {
    let text = std::str::from_utf8(text).map_err(|_| libc::EINVAL)?;
    let body = text.trim_start_matches([' ', '\t', '\n', '\x0b', '\x0c', '\r']);
    let (negative, digits) = match body.as_bytes().first() {
        Some(b'-') => (true, &body[1..]),
        Some(b'+') => (false, &body[1..]),
        _ => (false, body),
    };
    let len = digits.bytes().take_while(u8::is_ascii_digit).count();
    if len == 0 {
        return Err(libc::EINVAL);
    }
    let value: Option<u64> = digits[..len].parse().ok();
    if negative && value != Some(0) {
        return Err(libc::ERANGE);
    }
    let value = value.ok_or(libc::ERANGE)?;
    if len != digits.len() {
        return Err(libc::EINVAL);
    }
    Ok(value)
}

/// `ul_strtold`: what `strtod` takes, whole.
fn str_to_float(text: &[u8]) -> Result<f64, Errno> {
    let Ok(c_text) = std::ffi::CString::new(text) else {
        return Err(libc::EINVAL);
    };
    if text.is_empty() {
        return Err(libc::EINVAL);
    }
    let mut end: *mut libc::c_char = std::ptr::null_mut();
    // SAFETY: errno is this thread's; strtod reads the C string and sets
    // `end` inside it.
    let (value, errno) = unsafe {
        *libc::__errno_location() = 0;
        let value = libc::strtod(c_text.as_ptr(), &mut end);
        (value, *libc::__errno_location())
    };
    if errno != 0 {
        return Err(errno);
    }
    // SAFETY: `end` points into c_text, at or after its start.
    let used = unsafe { end.offset_from(c_text.as_ptr()) } as usize;
    if used == 0 || used != text.len() {
        return Err(libc::EINVAL);
    }
    Ok(value)
}

/// A string as a boolean: "1", "true" in any case, or a yes (rpmatch in
/// the C locale: a leading y or Y).
fn is_yes(text: &[u8]) -> bool {
    !text.is_empty()
        && (text == b"1" || text.eq_ignore_ascii_case(b"true") || matches!(text[0], b'y' | b'Y'))
}

/// `printf("%g")`.
fn format_g(value: f64) -> Vec<u8> {
    let mut buf = [0u8; 64];
    // SAFETY: the format takes one double; snprintf writes at most 64
    // bytes including the NUL.
    let len = unsafe { libc::snprintf(buf.as_mut_ptr().cast(), buf.len(), c"%g".as_ptr(), value) };
    buf[..(len.max(0) as usize).min(buf.len() - 1)].to_vec()
}

/// The type an operand stands for before any cast.
fn shape_type(shape: &Shape, column_number: &dyn Fn(&str) -> bool) -> Type {
    match shape {
        Shape::Number => Type::U64,
        Shape::Float => Type::Float,
        Shape::Str => Type::Str,
        Shape::Bool | Shape::Expression => Type::Bool,
        Shape::Holder(name) if column_number(name) => Type::U64,
        Shape::Holder(_) => Type::Str,
    }
}

/// The type both sides of a comparison are cast to.
fn guess_type(left: &Shape, right: &Shape, column_number: &dyn Fn(&str) -> bool) -> Type {
    let l = shape_type(left, column_number);
    let r = shape_type(right, column_number);
    if l == r {
        return l;
    }
    let is_holder = |shape: &Shape| matches!(shape, Shape::Holder(_));
    let guessed = if is_holder(left) && !is_holder(right) {
        r
    } else {
        l
    };
    if guessed == Type::U64 && (l == Type::Float || r == Type::Float) {
        return Type::Float;
    }
    guessed
}

pub struct Row<'a, 'b> {
    pub lookup: &'b dyn Fn(&str) -> Cell<'a>,
}

impl Row<'_, '_> {
    fn column_number(&self, name: &str) -> bool {
        (self.lookup)(name).number
    }

    /// A parameter's value in its own type (a column's cell, cast to the
    /// column's type).
    fn param(&self, param: &Param) -> Result<Value, Errno> {
        Ok(match param {
            Param::Number(n) => Value::of(Data::U64(*n)),
            Param::Float(f) => Value::of(Data::Float(*f)),
            Param::Str(text) => Value::text(Some(text)),
            Param::Bool(b) => Value::of(Data::Bool(*b)),
            Param::Holder(name) => {
                let cell = (self.lookup)(name);
                let value = Value::text(cell.data);
                if cell.number {
                    value.cast(Type::U64)?
                } else {
                    value
                }
            }
        })
    }

    /// A value as type `to`.
    fn cast_value(value: Value, to: Type) -> Result<Value, Errno> {
        if value.kind() == to {
            return Ok(value);
        }
        value.copied().cast(to)
    }

    /// Runs a filter's program on this row: a stack of values, no
    /// recursion, however deep the expression.
    pub fn run(&self, code: &[Instr]) -> Result<bool, Errno> {
        let mut stack: Vec<Value> = Vec::new();
        let mut at = 0;
        let top_truth = |stack: &Vec<Value>| stack.last().is_some_and(Value::truth);
        while let Some(instr) = code.get(at) {
            at += 1;
            match instr {
                Instr::Push(param) => stack.push(self.param(param)?),
                Instr::Not => {
                    let value = stack.pop().ok_or(libc::EINVAL)?;
                    stack.push(Value::of(Data::Bool(!value.truth())));
                }
                Instr::Truth => {
                    let value = stack.pop().ok_or(libc::EINVAL)?;
                    stack.push(Value::of(Data::Bool(value.truth())));
                }
                Instr::JumpIfFalse(to) | Instr::JumpIfTrue(to) => {
                    let on = matches!(instr, Instr::JumpIfTrue(_));
                    if top_truth(&stack) == on {
                        // The left side decides: it is the result.
                        let value = stack.pop().ok_or(libc::EINVAL)?;
                        stack.push(Value::of(Data::Bool(value.truth())));
                        at = *to;
                    } else {
                        stack.pop();
                    }
                }
                Instr::Cmp {
                    op,
                    left,
                    right,
                    regex,
                } => {
                    let r = stack.pop().ok_or(libc::EINVAL)?;
                    let l = stack.pop().ok_or(libc::EINVAL)?;
                    let to = guess_type(left, right, &|name| self.column_number(name));
                    let l = Self::cast_value(l, to)?;
                    let r = Self::cast_value(r, to)?;
                    let result = compare(*op, &l, &r, regex.as_ref())?;
                    stack.push(Value::of(Data::Bool(result)));
                }
            }
        }
        Ok(stack.last().is_some_and(Value::truth))
    }
}

fn compare(op: CmpOp, l: &Value, r: &Value, regex: Option<&Regex>) -> Result<bool, Errno> {
    use std::cmp::Ordering;
    let ordering = match (&l.data, &r.data) {
        (Data::Str(a), Data::Str(b)) => {
            if let CmpOp::Reg | CmpOp::NReg = op {
                // The compiled expression is the right string's own.
                let Some(regex) = regex else {
                    return Err(libc::EINVAL);
                };
                let matched = regex.is_match(a.as_deref().unwrap_or(b""));
                return Ok(matched == (op == CmpOp::Reg));
            }
            // NULL sorts before any text.
            a.cmp(b)
        }
        // libsmartcols fails here without setting errno, which is 0 by
        // then: util-linux says "Success".
        _ if matches!(op, CmpOp::Reg | CmpOp::NReg) => return Err(0),
        _ if l.empty || r.empty => return Ok(false),
        (Data::U64(a), Data::U64(b)) => a.cmp(b),
        (Data::Bool(a), Data::Bool(b)) => a.cmp(b),
        (Data::Float(a), Data::Float(b)) => match a.partial_cmp(b) {
            Some(ordering) => ordering,
            // NaN: only != holds.
            None => return Ok(op == CmpOp::Ne),
        },
        _ => return Err(libc::EINVAL),
    };
    Ok(match op {
        CmpOp::Eq => ordering == Ordering::Equal,
        CmpOp::Ne => ordering != Ordering::Equal,
        CmpOp::Lt => ordering == Ordering::Less,
        CmpOp::Le => ordering != Ordering::Greater,
        CmpOp::Gt => ordering == Ordering::Greater,
        CmpOp::Ge => ordering != Ordering::Less,
        CmpOp::Reg | CmpOp::NReg => unreachable!("handled above"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_to_numbers_as_ul_strtou64() {
        assert_eq!(str_to_u64(b"42"), Ok(42));
        assert_eq!(str_to_u64(b"+7"), Ok(7));
        assert_eq!(str_to_u64(b"-0"), Ok(0));
        assert_eq!(str_to_u64(b"-5"), Err(libc::ERANGE));
        assert_eq!(str_to_u64(b"18446744073709551616"), Err(libc::ERANGE));
        assert_eq!(str_to_u64(b"unassigned"), Err(libc::EINVAL));
        assert_eq!(str_to_u64(b"12x"), Err(libc::EINVAL));
        assert_eq!(str_to_u64(b""), Err(libc::EINVAL));
        assert_eq!(str_to_float(b"1.5"), Ok(1.5));
        assert_eq!(str_to_float(b"1.5x"), Err(libc::EINVAL));
    }

    #[test]
    fn casts() {
        let cast = |data: Data, to| Value::of(data).cast(to).unwrap().data;
        assert_eq!(
            cast(Data::Float(1.5), Type::Str),
            Data::Str(Some(b"1.5".to_vec()))
        );
        assert_eq!(
            cast(Data::Float(1e20), Type::Str),
            Data::Str(Some(b"1e+20".to_vec()))
        );
        assert_eq!(cast(Data::Bool(true), Type::U64), Data::U64(1));
        assert_eq!(cast(Data::U64(3), Type::Bool), Data::Bool(true));
        for (text, yes) in [
            ("yes", true),
            ("TRUE", true),
            ("1", true),
            ("no", false),
            ("2", false),
        ] {
            assert_eq!(
                cast(Data::Str(Some(text.into())), Type::Bool),
                Data::Bool(yes)
            );
        }
    }
}
