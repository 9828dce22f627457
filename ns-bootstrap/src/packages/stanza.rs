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
    Stanzas::new(text)
        .filter_map(Result::ok)
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
    Stanzas::new(text).filter(|stanza| !matches!(stanza, Ok(stanza) if stanza.fields.is_empty()))
}

/// The stanzas of a text, read in one pass over its lines (a Packages
/// index has a million): blocks of lines separated by blank ones (empty
/// or whitespace only), each parsed as it is read. A malformed block is
/// an error, and the next stanza is the one after it.
struct Stanzas<'a> {
    text: &'a str,
    /// Where the next line starts, and its number.
    offset: usize,
    line_no: usize,
}

/// Whether a line is blank: nothing but whitespace, as `str::trim` sees
/// it. Almost every line starts with a printable ASCII character, which
/// settles it.
fn is_blank(line: &str) -> bool {
    match line.as_bytes().first() {
        Some(&b) if b.is_ascii() && b != b' ' && !(0x09..=0x0d).contains(&b) => false,
        _ => line.trim().is_empty(),
    }
}

impl<'a> Stanzas<'a> {
    fn new(text: &'a str) -> Self {
        Stanzas {
            text,
            offset: 0,
            line_no: 1,
        }
    }

    /// The next line, its `\n` included, without moving past it.
    fn peek(&self) -> Option<&'a str> {
        let rest = &self.text.as_bytes()[self.offset..];
        if rest.is_empty() {
            return None;
        }
        let len = rest
            .iter()
            .position(|&b| b == b'\n')
            .map_or(rest.len(), |at| at + 1);
        Some(&self.text[self.offset..self.offset + len])
    }

    fn advance(&mut self, line: &str) {
        self.offset += line.len();
        self.line_no += 1;
    }
}

impl<'a> Iterator for Stanzas<'a> {
    type Item = Result<Stanza<'a>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        while is_blank(self.peek()?) {
            let line = self.peek()?;
            self.advance(line);
        }
        let text = self.text;
        let mut stanza = Stanza {
            fields: Vec::with_capacity(24),
            line: self.line_no,
        };
        let mut error = None;
        // (name, value start offset) of the field being read.
        let mut current: Option<(&'a str, usize)> = None;
        while let Some(line) = self.peek().filter(|line| !is_blank(line)) {
            let (starts, line_no) = (self.offset, self.line_no);
            self.advance(line);
            if error.is_some() {
                // The rest of a malformed block is read past.
                continue;
            }
            if line.starts_with('#') {
                // A comment ends the field before it (deb822 sources).
                if let Some((name, value_start)) = current.take() {
                    stanza.fields.push((name, text[value_start..starts].trim()));
                }
                continue;
            }
            if line.starts_with([' ', '\t']) {
                if current.is_none() {
                    error = Some(ParseError {
                        line: line_no,
                        message: "continuation line outside a field".to_string(),
                    });
                }
                continue;
            }
            if let Some((name, value_start)) = current.take() {
                stanza.fields.push((name, text[value_start..starts].trim()));
            }
            let Some(colon) = line.bytes().position(|b| b == b':') else {
                error = Some(ParseError {
                    line: line_no,
                    message: format!("not a field: '{}'", line.trim_end()),
                });
                continue;
            };
            let name = &line[..colon];
            if name.is_empty() || name.contains(char::is_whitespace) {
                error = Some(ParseError {
                    line: line_no,
                    message: format!("bad field name: '{}'", line.trim_end()),
                });
                continue;
            }
            current = Some((name, starts + colon + 1));
        }
        if let Some(error) = error {
            return Some(Err(error));
        }
        if let Some((name, value_start)) = current {
            stanza
                .fields
                .push((name, text[value_start..self.offset].trim()));
        }
        Some(Ok(stanza))
    }
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

    /// The two-pass reader this one replaced (blocks first, then each
    /// block's lines), kept as the reference the one-pass reader must
    /// agree with.
    fn two_pass(text: &str) -> Vec<Result<Stanza<'_>, ParseError>> {
        let mut blocks = Vec::new();
        let (mut start, mut offset) = (None, 0);
        for (index, line) in text.split_inclusive('\n').enumerate() {
            match (line.trim().is_empty(), start) {
                (true, Some((from, first))) => {
                    blocks.push((first, &text[from..offset]));
                    start = None;
                }
                (false, None) => start = Some((offset, index + 1)),
                _ => {}
            }
            offset += line.len();
        }
        if let Some((from, first)) = start {
            blocks.push((first, &text[from..]));
        }
        blocks
            .into_iter()
            .map(|(first_line, block)| {
                let mut stanza = Stanza {
                    fields: Vec::new(),
                    line: first_line,
                };
                let mut offset = 0;
                let mut current: Option<(&str, usize)> = None;
                for (index, line) in block.split_inclusive('\n').enumerate() {
                    let line_no = first_line + index;
                    let starts = offset;
                    offset += line.len();
                    if line.starts_with('#') {
                        if let Some((name, at)) = current.take() {
                            stanza.fields.push((name, block[at..starts].trim()));
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
                    if let Some((name, at)) = current.take() {
                        stanza.fields.push((name, block[at..starts].trim()));
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
                if let Some((name, at)) = current {
                    stanza.fields.push((name, block[at..].trim()));
                }
                Ok(stanza)
            })
            .collect()
    }

    #[test]
    fn one_pass_reads_what_two_passes_read() {
        const PIECES: &[&str] = &[
            "A: 1\n",
            "Bb:two words\n",
            " cont\n",
            "\t.\n",
            "# c\n",
            "\n",
            "\n",
            "  \n",
            "\t\n",
            "no colon\n",
            ": v\n",
            "x y: z\n",
            "\u{a0}\n",
            "\u{b}\n",
            "C: 3\r\n",
            "D:",
            " ",
            "\u{e9}: \u{2028}\n",
            "E: \u{85}\n",
        ];
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            let len = next() % 14;
            let text: String = (0..len)
                .map(|_| PIECES[(next() % PIECES.len() as u64) as usize])
                .collect();
            let one: Vec<_> = Stanzas::new(&text).collect();
            assert_eq!(one, two_pass(&text), "{text:?}");
        }
    }
}
