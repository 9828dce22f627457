//! What getopt_long hands a C tool for each option: its key. A short
//! option's key is its letter, and so is the key of a long option that
//! has a letter (or is another name of one: mount's `--ro` is `-r`); a
//! long-only option gets a number above every char, in table order. The
//! keys come from the option table, so a tool never spells out which long
//! name goes with which letter; util-linux's check of mutually exclusive
//! options ([`Exclusive`]) works on them, quirks included.

use std::ffi::OsString;
use std::fmt;

use crate::table::Tool;
use crate::UsageError;

/// An option as the tool's parser matches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// `-c`, or a long option with letter `c`.
    Short(char),
    /// A long option without a letter, by its full name.
    Long(&'static str),
}

/// One item of a command line, as [`Tool::next_given`] reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Given {
    /// An option; `long` when it was written long (`--net`, not `-n`),
    /// which decides whether an optional value may follow (`--net=FILE`).
    Option {
        key: Key,
        long: bool,
    },
    Operand(OsString),
}

impl Key {
    /// The error for a letter the tool does not know.
    pub fn unknown(self) -> UsageError {
        match self {
            Key::Short(c) => crate::unknown(lexopt::Arg::Short(c)),
            Key::Long(long) => crate::unknown(lexopt::Arg::Long(long)),
        }
    }
}

/// Why the next option could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptionError {
    /// A command-line error (then the `Try … --help` line).
    Usage(UsageError),
    /// Two options of one exclusive group.
    Exclusive(ExclusiveError),
}

/// Where long-only options are numbered from: above every char, as
/// util-linux numbers them (`CHAR_MAX + 1` onwards).
const LONG_ONLY_BASE: u32 = 0x100;

impl Tool {
    /// The long name of the table entry with letter `short`.
    pub fn long_of(&self, short: char) -> Option<&'static str> {
        self.options
            .iter()
            .find(|opt| opt.short == Some(short))
            .map(|opt| opt.long)
    }

    /// The key of an option lexopt returned: `-c` as it is, a long option
    /// resolved (abbreviations included) to its letter or full name.
    /// Values are the caller's.
    pub fn key(&self, arg: &lexopt::Arg<'_>) -> Result<Key, UsageError> {
        match arg {
            lexopt::Arg::Short(c) => Ok(Key::Short(*c)),
            lexopt::Arg::Long(given) => {
                let long = self.resolve_long(given)?;
                Ok(self.key_of_long(long))
            }
            lexopt::Arg::Value(_) => Err(crate::unknown(arg.clone())),
        }
    }

    /// The next item of a command line as getopt_long reads it: an
    /// option by its key (a long one resolved from its abbreviation, a
    /// rejected one named with its attached `=VALUE`, as glibc names it),
    /// or an operand. `None` at the end.
    pub fn next_given(&self, parser: &mut lexopt::Parser) -> Result<Option<Given>, UsageError> {
        let Some(arg) = parser.next().map_err(|e| self.usage_error(e))? else {
            return Ok(None);
        };
        Ok(Some(match arg {
            lexopt::Arg::Value(operand) => Given::Operand(operand),
            lexopt::Arg::Short(c) => Given::Option {
                key: Key::Short(c),
                long: false,
            },
            lexopt::Arg::Long(name) => {
                // Owned, so that the parser can give up an attached value
                // for the message.
                let name = name.to_owned();
                Given::Option {
                    key: self.key_of_long(self.resolve_long_arg(&name, parser)?),
                    long: true,
                }
            }
        }))
    }

    /// The next option of a command line whose operands may stand
    /// anywhere (getopt_long permutes them), by its key, once `exclusive`
    /// has seen it; operands are set aside in `operands`. `None` at the
    /// end.
    pub fn next_key(
        &self,
        parser: &mut lexopt::Parser,
        exclusive: &mut Exclusive,
        operands: &mut Vec<OsString>,
    ) -> Result<Option<Key>, OptionError> {
        loop {
            match self.next_given(parser).map_err(OptionError::Usage)? {
                None => return Ok(None),
                Some(Given::Operand(operand)) => operands.push(operand),
                Some(Given::Option { key, .. }) => {
                    exclusive.check(self, key).map_err(OptionError::Exclusive)?;
                    return Ok(Some(key));
                }
            }
        }
    }

    /// The key of a long option of the table, by its full name.
    pub fn key_of_long(&self, long: &'static str) -> Key {
        let opt = self.options.iter().find(|opt| opt.long == long);
        match opt.and_then(|opt| opt.short.or(opt.same_as)) {
            Some(short) => Key::Short(short),
            None => Key::Long(long),
        }
    }

    /// The table entry's long name for a key: `-c`'s long option, or the
    /// long-only name itself. `None` for a letter the table lacks.
    pub fn long_of_key(&self, key: Key) -> Option<&'static str> {
        match key {
            Key::Short(c) => self.long_of(c),
            Key::Long(long) => Some(long),
        }
    }

    /// The number getopt_long would return for the key.
    fn code(&self, key: Key) -> u32 {
        match key {
            Key::Short(c) => c as u32,
            Key::Long(long) => {
                let index = self.options.iter().position(|opt| opt.long == long);
                LONG_ONLY_BASE + index.unwrap_or(self.options.len()) as u32
            }
        }
    }
}

/// util-linux's check of mutually exclusive options
/// (`err_exclusive_options`): `rows` are groups of long names whose keys
/// ascend, and of each group only one option may be given (any number of
/// times). As in util-linux, a row is only looked at while its first key
/// is not above the option's, which lets some combinations through.
pub struct Exclusive {
    rows: &'static [&'static [&'static str]],
    /// The key first seen in each row (0: none yet).
    seen: Vec<u32>,
}

/// Two options of one exclusive group: the group's options, in its order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExclusiveError(pub &'static [&'static str], pub Clash);

/// The two options that clashed (long names): the one seen first, then
/// the one given after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clash {
    pub first: &'static str,
    pub second: &'static str,
}

impl ExclusiveError {
    /// util-linux 2.39+'s words, which name the two options given:
    /// `options --raw and --json cannot be combined`. ([`fmt::Display`]
    /// gives 2.38's, which list the group.)
    pub fn cannot_be_combined(&self) -> String {
        format!(
            "options --{} and --{} cannot be combined",
            self.1.first, self.1.second
        )
    }
}

impl fmt::Display for ExclusiveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("mutually exclusive arguments:")?;
        for name in self.0 {
            write!(f, " --{name}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ExclusiveError {}

impl Exclusive {
    pub fn new(rows: &'static [&'static [&'static str]]) -> Exclusive {
        Exclusive {
            rows,
            seen: vec![0; rows.len()],
        }
    }

    /// Records option `key` of `tool`; an error if another option of one
    /// of its rows was seen before.
    pub fn check(&mut self, tool: &Tool, key: Key) -> Result<(), ExclusiveError> {
        let code = tool.code(key);
        for (row, seen) in self.rows.iter().zip(self.seen.iter_mut()) {
            let mut codes = row.iter().map(|long| tool.code(tool.key_of_long(long)));
            if codes.clone().next().is_none_or(|first| first > code) {
                break;
            }
            let Some(found) = codes.find(|&option| option >= code) else {
                continue;
            };
            if found != code {
                continue;
            }
            if *seen == 0 {
                *seen = code;
            } else if *seen != code {
                let name = |wanted: u32| {
                    row.iter()
                        .copied()
                        .find(|long| tool.code(tool.key_of_long(long)) == wanted)
                        .unwrap_or_default()
                };
                let clash = Clash {
                    first: name(*seen),
                    second: name(code),
                };
                return Err(ExclusiveError(row, clash));
            }
        }
        Ok(())
    }

    /// Whether every row's keys ascend, as the check assumes (for the
    /// tools' unit tests).
    pub fn rows_ascend(&self, tool: &Tool) -> bool {
        self.rows.iter().all(|row| {
            let codes: Vec<u32> = row
                .iter()
                .map(|long| tool.code(tool.key_of_long(long)))
                .collect();
            codes.windows(2).all(|pair| pair[0] < pair[1])
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Complete, Opt, Style};

    const TOOL: Tool = Tool {
        name: "ns-demo",
        reference: "demo",
        section: 8,
        summary: "",
        usage: &[],
        description: "",
        options: &[
            Opt::flag(Some('B'), "bind", ""),
            Opt::flag(Some('M'), "move", ""),
            Opt::flag(Some('R'), "rbind", ""),
            Opt::flag(Some('r'), "read-only", ""),
            Opt::flag(None, "ro", "").same_as('r'),
            Opt::required(Some('L'), "label", "l", Complete::Nothing, ""),
            Opt::required(None, "source", "s", Complete::Nothing, ""),
            Opt::flag(None, "make-shared", ""),
        ],
        notes: "",
        operands: Complete::Nothing,
        style: Style::UtilLinux,
    };

    const ROWS: &[&[&str]] = &[&["bind", "move", "rbind"], &["label", "source"]];

    fn key(long: &str) -> Key {
        TOOL.key(&lexopt::Arg::Long(long)).unwrap()
    }

    #[test]
    fn keys_come_from_the_table() {
        assert_eq!(key("bind"), Key::Short('B'));
        assert_eq!(key("ro"), Key::Short('r'), "another name of -r");
        assert_eq!(key("make"), Key::Long("make-shared"), "abbreviated");
        assert_eq!(key("source"), Key::Long("source"));
        assert_eq!(TOOL.key(&lexopt::Arg::Short('x')), Ok(Key::Short('x')));
        assert!(TOOL.key(&lexopt::Arg::Long("nope")).is_err());
        assert_eq!(TOOL.long_of('M'), Some("move"));
        assert_eq!(TOOL.long_of('x'), None);
        assert_eq!(TOOL.long_of_key(Key::Short('r')), Some("read-only"));
    }

    #[test]
    fn one_option_of_a_row_any_number_of_times() {
        let mut exclusive = Exclusive::new(ROWS);
        assert!(exclusive.rows_ascend(&TOOL));
        assert_eq!(exclusive.check(&TOOL, Key::Short('B')), Ok(()));
        assert_eq!(exclusive.check(&TOOL, Key::Short('B')), Ok(()));
        assert_eq!(exclusive.check(&TOOL, Key::Short('L')), Ok(()));
        let error = exclusive.check(&TOOL, Key::Short('M')).unwrap_err();
        assert_eq!(
            error.to_string(),
            "mutually exclusive arguments: --bind --move --rbind"
        );
        assert_eq!(
            error.cannot_be_combined(),
            "options --bind and --move cannot be combined"
        );
        let error = exclusive.check(&TOOL, Key::Long("source")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "mutually exclusive arguments: --label --source"
        );
        assert_eq!(
            error.cannot_be_combined(),
            "options --label and --source cannot be combined"
        );
    }

    #[test]
    fn a_row_beyond_the_key_is_not_looked_at() {
        // util-linux's quirk: the rows are walked in order and the walk
        // stops at the first row that starts above the key.
        const QUIRKY: &[&[&str]] = &[&["move", "read-only"], &["label", "bind"]];
        let mut exclusive = Exclusive::new(QUIRKY);
        assert!(!exclusive.rows_ascend(&TOOL), "label is above bind");
        assert_eq!(exclusive.check(&TOOL, Key::Short('L')), Ok(()));
        assert_eq!(
            exclusive.check(&TOOL, Key::Short('B')),
            Ok(()),
            "never seen"
        );
    }
}
