//! The deb822 stanza format of Release, Packages, control files and apt
//! `.sources`: blocks of `Name: value` fields separated by blank lines,
//! continuation lines kept in the value, `#` comments dropped.

use std::fmt;

/// One stanza: its fields in order. A value keeps its continuation lines
/// (`"\n "` included); callers that need words split on whitespace.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Stanza<'a> {
    pub fields: Vec<(&'a str, &'a str)>,
    /// 1-based line of the stanza's first field, for messages.
    pub line: usize,
}

impl<'a> Stanza<'a> {
    /// The value of a field, matched case-insensitively as dpkg does.
    pub fn get(&self, name: &str) -> Option<&'a str> {
        self.fields
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| *value)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

impl std::error::Error for ParseError {}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Lenient split for files where a bad stanza should not stop the rest
/// (apt sources): malformed stanzas are dropped.
pub fn stanzas(text: &str) -> Vec<Stanza<'_>> {
    Blocks::new(text)
        .filter_map(|(line, block)| parse_block(block, line).ok())
        .filter(|stanza| !stanza.fields.is_empty())
        .collect()
}

/// Strict split: any malformed line is an error naming its line.
pub fn parse_stanzas(text: &str) -> Result<Vec<Stanza<'_>>, ParseError> {
    each_stanza(text).collect()
}

/// [`parse_stanzas`] one stanza at a time, so that a caller that keeps
/// something smaller of each (a Packages index's 60,000 stanzas) never
/// holds them all.
pub fn each_stanza(text: &str) -> impl Iterator<Item = Result<Stanza<'_>, ParseError>> {
    Blocks::new(text)
        .map(|(line, block)| parse_block(block, line))
        .filter(|stanza| !matches!(stanza, Ok(stanza) if stanza.fields.is_empty()))
}

/// Blocks separated by blank lines, each with its first line number.
struct Blocks<'a> {
    text: &'a str,
    /// Where the next line starts, and its number.
    offset: usize,
    line_no: usize,
}

impl<'a> Blocks<'a> {
    fn new(text: &'a str) -> Self {
        Blocks {
            text,
            offset: 0,
            line_no: 1,
        }
    }
}

impl<'a> Iterator for Blocks<'a> {
    type Item = (usize, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        let mut start: Option<(usize, usize)> = None;
        for line in self.text[self.offset..].split_inclusive('\n') {
            let here = (self.offset, self.line_no);
            self.offset += line.len();
            self.line_no += 1;
            match (line.trim().is_empty(), start) {
                (true, Some((from, first))) => {
                    return Some((first, &self.text[from..here.0]));
                }
                (false, None) => start = Some(here),
                _ => {}
            }
        }
        start.map(|(from, first)| (first, &self.text[from..]))
    }
}

fn parse_block(block: &str, first_line: usize) -> Result<Stanza<'_>, ParseError> {
    let mut stanza = Stanza {
        fields: Vec::new(),
        line: first_line,
    };
    let mut offset = 0;
    // (name, value start offset) of the field being read.
    let mut current: Option<(&str, usize)> = None;
    for (index, line) in block.split_inclusive('\n').enumerate() {
        let line_no = first_line + index;
        let starts = offset;
        offset += line.len();
        if line.starts_with('#') {
            // A comment ends the field before it (deb822 sources).
            if let Some((name, value_start)) = current.take() {
                stanza
                    .fields
                    .push((name, block[value_start..starts].trim()));
            }
            continue;
        }
        if line.starts_with([' ', '\t']) {
            if current.is_none() {
                return Err(ParseError {
                    line: line_no,
                    message: "continuation line outside a field".to_string(),
                });
            }
            continue;
        }
        if let Some((name, value_start)) = current.take() {
            stanza
                .fields
                .push((name, block[value_start..starts].trim()));
        }
        let Some(colon) = line.find(':') else {
            return Err(ParseError {
                line: line_no,
                message: format!("not a field: '{}'", line.trim_end()),
            });
        };
        let name = &line[..colon];
        if name.is_empty() || name.contains(char::is_whitespace) {
            return Err(ParseError {
                line: line_no,
                message: format!("bad field name: '{}'", line.trim_end()),
            });
        }
        current = Some((name, starts + colon + 1));
    }
    if let Some((name, value_start)) = current {
        stanza.fields.push((name, block[value_start..].trim()));
    }
    Ok(stanza)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stanzas_with_continuations_and_comments() {
        let text = "A: 1\nB: two\n words\n .\n# comment\nC:3\n\n\n\nD: 4\n";
        let got = parse_stanzas(text).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].get("a"), Some("1"));
        assert_eq!(got[0].get("B"), Some("two\n words\n ."));
        assert_eq!(got[0].get("C"), Some("3"));
        assert_eq!(got[1].get("D"), Some("4"));
        assert_eq!(got[1].line, 10);
    }

    #[test]
    fn malformed_stanzas() {
        assert_eq!(parse_stanzas(" x\nA: 1\n").unwrap_err().line, 1);
        let error = parse_stanzas("A: 1\nno colon here\n").unwrap_err();
        assert_eq!(error.line, 2);
        assert!(error.message.contains("not a field"));
        assert!(parse_stanzas(": value\n").is_err());
        // The lenient reader drops the bad stanza and keeps the good one.
        assert_eq!(stanzas("bad\n\nA: 1\n").len(), 1);
        assert!(parse_stanzas("").unwrap().is_empty());
        // CRLF and trailing spaces are not fields either.
        assert_eq!(parse_stanzas("A: 1\r\n").unwrap()[0].get("A"), Some("1"));
    }
}
