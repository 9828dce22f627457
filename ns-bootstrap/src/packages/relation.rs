//! Package relations (Depends, Pre-Depends, Provides): comma-separated
//! groups of `|` alternatives, each a name with an optional version
//! constraint; architecture qualifiers, architecture lists and build
//! profiles are read past.

use std::cmp::Ordering;

/// A version relation operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
}

impl Op {
    pub fn holds(self, ordering: Ordering) -> bool {
        match self {
            Op::Lt => ordering == Ordering::Less,
            Op::Le => ordering != Ordering::Greater,
            Op::Eq => ordering == Ordering::Equal,
            Op::Ge => ordering != Ordering::Less,
            Op::Gt => ordering == Ordering::Greater,
        }
    }
}

/// `name [(op version)]`, the architecture qualifier (`:any`) dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation<'a> {
    pub name: &'a str,
    pub version: Option<(Op, &'a str)>,
}

/// `a | b (>= 1)`: any one satisfies.
pub type Alternatives<'a> = Vec<Relation<'a>>;

/// Why a relation field does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RelationError {
    #[error("unbalanced parenthesis in '{0}'")]
    Parenthesis(String),
    #[error("unexpected text after ')' in '{0}'")]
    After(String),
    #[error("bad version relation '({0})'")]
    Operator(String),
    #[error("bad version in '({0})'")]
    Version(String),
    #[error("bad package name '{0}'")]
    Name(String),
}

/// Parses a Depends-like field: `a (>= 1) | b:any, c [amd64] <!nocheck>`.
pub fn parse_relations(text: &str) -> Result<Vec<Alternatives<'_>>, RelationError> {
    let mut out = Vec::new();
    for group in text.split(',') {
        if group.trim().is_empty() {
            // A trailing comma is tolerated, as dpkg does.
            continue;
        }
        let mut alternatives = Vec::new();
        for alt in group.split('|') {
            alternatives.push(parse_relation(alt.trim())?);
        }
        out.push(alternatives);
    }
    Ok(out)
}

fn parse_relation(text: &str) -> Result<Relation<'_>, RelationError> {
    // Architecture lists (`[amd64]`) and build profiles (`<!nocheck>`)
    // follow the name and version; they only appear in source packages.
    let text = text.trim();
    let Some(paren) = text.find('(') else {
        let name = text.split(['[', '<']).next().unwrap_or("");
        return Ok(Relation {
            name: package_name(name)?,
            version: None,
        });
    };
    let (name, rest) = text.split_at(paren);
    let close = rest
        .find(')')
        .ok_or_else(|| RelationError::Parenthesis(text.to_string()))?;
    let after = rest[close + 1..].trim_start();
    if !(after.is_empty() || after.starts_with(['[', '<'])) {
        return Err(RelationError::After(text.to_string()));
    }
    let inner = rest[1..close].trim();
    let (op, version) =
        split_op(inner).ok_or_else(|| RelationError::Operator(inner.to_string()))?;
    if version.is_empty() || version.contains(char::is_whitespace) {
        return Err(RelationError::Version(inner.to_string()));
    }
    Ok(Relation {
        name: package_name(name)?,
        version: Some((op, version)),
    })
}

fn split_op(text: &str) -> Option<(Op, &str)> {
    for (token, op) in [
        ("<<", Op::Lt),
        ("<=", Op::Le),
        (">=", Op::Ge),
        (">>", Op::Gt),
        ("=", Op::Eq),
        // Obsolete spellings, kept by dpkg: `<` is `<=`, `>` is `>=`.
        ("<", Op::Le),
        (">", Op::Ge),
    ] {
        if let Some(rest) = text.strip_prefix(token) {
            return Some((op, rest.trim()));
        }
    }
    None
}

fn package_name(text: &str) -> Result<&str, RelationError> {
    let name = text.trim();
    let name = name.split(':').next().unwrap_or("");
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+-.".contains(&b))
    {
        return Err(RelationError::Name(text.trim().to_string()));
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relations() {
        let got =
            parse_relations("libc6 (>= 2.34), a | b:any (<< 2~), c [amd64], d (>1) <!x>").unwrap();
        assert_eq!(got.len(), 4);
        assert_eq!(got[0][0].name, "libc6");
        assert_eq!(got[0][0].version, Some((Op::Ge, "2.34")));
        assert_eq!(got[1][1].name, "b");
        assert_eq!(got[1][1].version, Some((Op::Lt, "2~")));
        assert_eq!(got[2][0].name, "c");
        assert_eq!(got[3][0].version, Some((Op::Ge, "1")));
        assert!(parse_relations("").unwrap().is_empty());
        assert_eq!(parse_relations("a,").unwrap().len(), 1);
    }

    #[test]
    fn malformed_relations() {
        for bad in [
            "a (>= 1",
            "a (~ 1)",
            "A",
            "a | ",
            "a (>= )",
            "a (>= 1 2)",
            "a (= 1) b",
        ] {
            assert!(parse_relations(bad).is_err(), "{bad} should not parse");
        }
    }
}
