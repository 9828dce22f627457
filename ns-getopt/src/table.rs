//! A tool's option table, and what is generated from it: `--help`, the
//! man page (roff) and the bash completion. One table, so the three never
//! disagree with each other or with the parser (each tool's `cli.rs`
//! matches on the table's long names, and resolves abbreviations against
//! them).

use std::fmt::Write;

/// What an option takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value {
    None,
    /// `--opt=NAME` or `--opt NAME`.
    Required(&'static str),
    /// `--opt[=NAME]` only.
    Optional(&'static str),
}

/// What the bash completion offers for a value or an operand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Complete {
    Nothing,
    Files,
    Dirs,
    Users,
    Groups,
    Pids,
    Commands,
    /// A fixed list of words, separated by spaces.
    Words(&'static str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opt {
    pub short: Option<char>,
    pub long: &'static str,
    pub value: Value,
    pub complete: Complete,
    pub help: &'static str,
    /// The letter of the option this one is another name of (`--ro` is
    /// `-r` in mount), which help does not show beside it.
    pub same_as: Option<char>,
}

impl Opt {
    const fn new(
        short: Option<char>,
        long: &'static str,
        value: Value,
        complete: Complete,
        help: &'static str,
    ) -> Opt {
        Opt {
            short,
            long,
            value,
            complete,
            help,
            same_as: None,
        }
    }

    /// A flag: `-s, --long`.
    pub const fn flag(short: Option<char>, long: &'static str, help: &'static str) -> Opt {
        Opt::new(short, long, Value::None, Complete::Nothing, help)
    }

    /// `--long=NAME` or `--long NAME`.
    pub const fn required(
        short: Option<char>,
        long: &'static str,
        name: &'static str,
        complete: Complete,
        help: &'static str,
    ) -> Opt {
        Opt::new(short, long, Value::Required(name), complete, help)
    }

    /// `--long[=NAME]`.
    pub const fn optional(
        short: Option<char>,
        long: &'static str,
        name: &'static str,
        complete: Complete,
        help: &'static str,
    ) -> Opt {
        Opt::new(short, long, Value::Optional(name), complete, help)
    }

    /// Another name of the option with letter `short`.
    pub const fn same_as(self, short: char) -> Opt {
        Opt {
            same_as: Some(short),
            ..self
        }
    }
}

/// How the reference tool lays out its help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Coreutils,
    UtilLinux,
}

/// Everything `--help`, the man page and the completion say about a tool.
#[derive(Debug, Clone, Copy)]
pub struct Tool {
    /// Our binary's name, e.g. `ns-chroot`.
    pub name: &'static str,
    /// The reference tool it replaces, e.g. `chroot`.
    pub reference: &'static str,
    /// The manual section (1 or 8).
    pub section: u8,
    /// One line: what the tool does.
    pub summary: &'static str,
    /// Synopsis lines, without the program name.
    pub usage: &'static [&'static str],
    /// Paragraphs, separated by blank lines.
    pub description: &'static str,
    pub options: &'static [Opt],
    /// What follows the options in `--help` (and the man page's NOTES).
    pub notes: &'static str,
    /// What the completion offers for operands.
    pub operands: Complete,
    pub style: Style,
}

impl Tool {
    /// The long names, in table order (getopt_long reports ambiguities in
    /// that order).
    pub fn long_names(&self) -> Vec<&'static str> {
        self.options.iter().map(|opt| opt.long).collect()
    }

    /// Resolves an abbreviated long option to its table entry's name.
    pub fn resolve_long(&self, given: &str) -> Result<&'static str, crate::UsageError> {
        crate::resolve_long(given, &self.long_names())
    }

    /// [`Tool::resolve_long`] for the option `parser` just returned, a
    /// rejected one named with its attached `=VALUE` as glibc names it.
    pub fn resolve_long_arg(
        &self,
        given: &str,
        parser: &mut lexopt::Parser,
    ) -> Result<&'static str, crate::UsageError> {
        crate::resolve_long_arg(given, parser, &self.long_names())
    }

    /// Maps a lexopt error to glibc's wording, naming options in full.
    pub fn usage_error(&self, error: lexopt::Error) -> crate::UsageError {
        crate::UsageError::from_lexopt(error, &self.long_names())
    }

    /// Parses argv (`argv[0]` included): `parse` reads the options, given
    /// the name the tool was invoked as (its own name for an empty argv).
    /// An error comes back with that name, for its message.
    pub fn parse<T, E>(
        &self,
        args: impl IntoIterator<Item = impl Into<std::ffi::OsString>>,
        parse: impl FnOnce(&mut lexopt::Parser, &str) -> Result<T, E>,
    ) -> Result<T, (String, E)> {
        let mut parser = lexopt::Parser::from_iter(args.into_iter().map(Into::into));
        let invoked_as = crate::invoked_name(parser.bin_name().map(AsRef::as_ref), self.name);
        parse(&mut parser, &invoked_as).map_err(|error| (invoked_as, error))
    }

    /// Answers `--help` and `--version` (a stdout that cannot be written
    /// is a failure, as the reference tools check their writes), or does
    /// the tool's work.
    pub fn act<T, E: From<crate::Failed>>(
        &self,
        prog: &str,
        action: &crate::Action<T>,
        run: impl FnOnce(&T) -> Result<std::process::ExitCode, E>,
    ) -> Result<std::process::ExitCode, E> {
        let text = match action {
            crate::Action::Help => self.help(prog),
            crate::Action::Version => self.version(prog),
            crate::Action::Run(options) => return run(options),
        };
        crate::print_stdout(&text)
            .map(|()| std::process::ExitCode::SUCCESS)
            .map_err(|error| E::from(crate::write_failed(&error)))
    }

    /// `--version`: the name invoked, and nstools' version.
    pub fn version(&self, prog: &str) -> String {
        format!("{prog} (nstools) {}\n", env!("CARGO_PKG_VERSION"))
    }

    /// `--help`, laid out as the reference tool lays out its own.
    pub fn help(&self, prog: &str) -> String {
        let mut out = String::new();
        match self.style {
            Style::Coreutils => {
                for (index, usage) in self.usage.iter().enumerate() {
                    let lead = if index == 0 { "Usage:" } else { "  or: " };
                    let _ = writeln!(out, "{lead} {prog} {usage}");
                }
                let _ = writeln!(out, "{}\n", self.description_first_paragraph());
                for opt in self.options {
                    push_option(&mut out, "  ", &option_text(opt), opt.help, 29);
                }
            }
            Style::UtilLinux => {
                out.push_str("\nUsage:\n");
                for usage in self.usage {
                    let _ = writeln!(out, " {prog} {usage}");
                }
                let _ = writeln!(out, "\n{}\n\nOptions:", self.description_first_paragraph());
                for opt in self.options {
                    push_option(&mut out, " ", &option_text(opt), opt.help, 27);
                }
            }
        }
        if !self.notes.is_empty() {
            let _ = write!(out, "\n{}\n", self.notes.replace("PROG", prog).trim_end());
        }
        if self.style == Style::UtilLinux {
            let _ = write!(
                out,
                "\nFor more details see {}({}).\n",
                self.name, self.section
            );
        }
        out
    }

    fn description_first_paragraph(&self) -> &str {
        self.description.split("\n\n").next().unwrap_or("").trim()
    }

    /// The man page, in roff (man(7) macros).
    pub fn man(&self, version: &str) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            ".TH {} {} \"\" \"nstools {version}\" \"nstools\"",
            roff(&self.name.to_uppercase()),
            self.section
        );
        let _ = writeln!(
            out,
            ".SH NAME\n{} \\- {}",
            roff(self.name),
            roff(self.summary)
        );
        out.push_str(".SH SYNOPSIS\n");
        for usage in self.usage {
            let _ = writeln!(out, ".B {}\n{}\n.br", roff(self.name), roff(usage));
        }
        out.push_str(".SH DESCRIPTION\n");
        for paragraph in self.description.split("\n\n") {
            let _ = writeln!(out, ".PP\n{}", roff(&unwrap_lines(paragraph)));
        }
        let _ = writeln!(
            out,
            ".PP\n\\fB{}\\fR is a drop-in replacement for \\fB{}\\fR({}): the same options, \
             output and exit codes; invoked under the name \\fB{}\\fR (a symlink), it speaks \
             as \\fB{}\\fR.",
            roff(self.name),
            roff(self.reference),
            self.section,
            roff(self.reference),
            roff(self.reference)
        );
        out.push_str(".SH OPTIONS\n");
        for opt in self.options {
            let _ = writeln!(out, ".TP\n{}\n{}", man_option(opt), roff(opt.help));
        }
        if !self.notes.is_empty() {
            out.push_str(".SH NOTES\n");
            for paragraph in self.notes.trim().split("\n\n") {
                let text = unwrap_lines(&paragraph.replace("PROG", self.name));
                let _ = writeln!(out, ".PP\n{}", roff(&text));
            }
        }
        let _ = writeln!(
            out,
            ".SH SEE ALSO\n.BR {} ({})",
            roff(self.reference),
            self.section
        );
        out
    }

    /// A bash completion script for the tool (and, with `names`, for other
    /// names it is installed under).
    pub fn bash_completion(&self, names: &[&str]) -> String {
        let function = format!("_{}", self.name.replace('-', "_"));
        let mut out = format!(
            "# bash completion for {} (generated from its option table by `cargo xtask man`)\n\
             {function}()\n{{\n\
             \tlocal cur prev\n\
             \tcur=\"${{COMP_WORDS[COMP_CWORD]}}\"\n\
             \tprev=\"${{COMP_WORDS[COMP_CWORD-1]}}\"\n\
             \tcase $prev in\n",
            self.name
        );
        for opt in self
            .options
            .iter()
            .filter(|opt| matches!(opt.value, Value::Required(_)))
        {
            let mut patterns = vec![format!("'--{}'", opt.long)];
            if let Some(short) = opt.short {
                patterns.insert(0, format!("'-{short}'"));
            }
            let _ = writeln!(
                out,
                "\t\t{})\n\t\t\t{}\n\t\t\treturn 0\n\t\t\t;;",
                patterns.join("|"),
                compgen(opt.complete)
            );
        }
        let words: Vec<String> = self
            .options
            .iter()
            .flat_map(|opt| {
                let long = match opt.value {
                    Value::Required(_) | Value::None => format!("--{}", opt.long),
                    Value::Optional(_) => format!("--{}=", opt.long),
                };
                opt.short
                    .map(|c| format!("-{c}"))
                    .into_iter()
                    .chain(std::iter::once(long))
            })
            .collect();
        let _ = write!(
            out,
            "\tesac\n\
             \tcase $cur in\n\
             \t\t-*)\n\
             \t\t\tCOMPREPLY=( $(compgen -W \"{}\" -- \"$cur\") )\n\
             \t\t\treturn 0\n\
             \t\t\t;;\n\
             \tesac\n\
             \t{}\n\
             \treturn 0\n\
             }}\n",
            words.join(" "),
            compgen(self.operands)
        );
        let mut all_names = vec![self.name];
        all_names.extend_from_slice(names);
        let _ = writeln!(out, "complete -F {function} {}", all_names.join(" "));
        out
    }
}

/// `-s, --long=VALUE` as help text shows it.
fn option_text(opt: &Opt) -> String {
    let short = match opt.short {
        Some(c) => format!("-{c}, "),
        None => "    ".to_string(),
    };
    let value = match opt.value {
        Value::None => String::new(),
        Value::Required(name) => format!("={name}"),
        Value::Optional(name) => format!("[={name}]"),
    };
    format!("{short}--{}{value}", opt.long)
}

/// One option line; a long option pushes its help to the next line.
fn push_option(out: &mut String, indent: &str, text: &str, help: &str, column: usize) {
    let lead = format!("{indent}{text}");
    let mut lines = help.lines();
    let first = lines.next().unwrap_or("");
    if lead.len() + 2 <= column {
        let _ = writeln!(out, "{lead:<column$}{first}");
    } else {
        let _ = writeln!(out, "{lead}\n{:column$}{first}", "");
    }
    for line in lines {
        let _ = writeln!(out, "{:column$}{line}", "");
    }
}

fn man_option(opt: &Opt) -> String {
    let mut parts = Vec::new();
    if let Some(c) = opt.short {
        parts.push(format!("\\fB\\-{}\\fR", roff(&c.to_string())));
    }
    let value = match opt.value {
        Value::None => String::new(),
        Value::Required(name) => format!("=\\fI{}\\fR", roff(name)),
        Value::Optional(name) => format!("[=\\fI{}\\fR]", roff(name)),
    };
    parts.push(format!("\\fB\\-\\-{}\\fR{value}", roff(opt.long)));
    parts.join(", ")
}

/// Joins a paragraph's lines: roff fills text itself.
fn unwrap_lines(paragraph: &str) -> String {
    paragraph
        .lines()
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Escapes text for roff: backslashes, hyphens (so they stay minus signs
/// in copy-paste), and a control character at the start of a line.
fn roff(text: &str) -> String {
    let escaped = text.replace('\\', "\\e").replace('-', "\\-");
    escaped
        .lines()
        .map(|line| {
            if line.starts_with('.') || line.starts_with('\'') {
                format!("\\&{line}")
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn compgen(complete: Complete) -> String {
    let reply = |args: &str| format!("COMPREPLY=( $(compgen {args} -- \"$cur\") )");
    match complete {
        Complete::Nothing => ":".to_string(),
        Complete::Files => reply("-f"),
        Complete::Dirs => reply("-d"),
        Complete::Users => reply("-u"),
        Complete::Groups => reply("-g"),
        Complete::Commands => reply("-c"),
        Complete::Pids => {
            "COMPREPLY=( $(cd /proc && compgen -W \"$(echo [0-9]*)\" -- \"$cur\") )".to_string()
        }
        Complete::Words(words) => reply(&format!("-W \"{words}\"")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOOL: Tool = Tool {
        name: "ns-demo",
        reference: "demo",
        section: 1,
        summary: "show how tables render",
        usage: &["[options] <file>"],
        description: "Render a table.\n\nSecond paragraph\nover two lines.",
        options: &[
            Opt::flag(Some('f'), "fork", "fork before running"),
            Opt::optional(
                Some('m'),
                "mount",
                "file",
                Complete::Files,
                "unshare mounts",
            ),
            Opt::required(
                None,
                "propagation",
                "slave|shared|private|unchanged",
                Complete::Words("slave shared private unchanged"),
                "propagation of mounts",
            ),
            Opt::flag(Some('h'), "help", "display this help"),
        ],
        notes: "Exit status of PROG: that of the program.",
        operands: Complete::Commands,
        style: Style::UtilLinux,
    };

    #[test]
    fn util_linux_help_layout() {
        let help = TOOL.help("demo");
        assert!(
            help.starts_with("\nUsage:\n demo [options] <file>\n\nRender a table.\n\nOptions:\n"),
            "{help}"
        );
        assert!(
            help.contains("\n -f, --fork                fork before running\n"),
            "{help}"
        );
        assert!(
            help.contains("\n -m, --mount[=file]        unshare mounts\n"),
            "{help}"
        );
        assert!(help.contains(
            "\n     --propagation=slave|shared|private|unchanged\n                           propagation of mounts\n"
        ), "{help}");
        assert!(help.contains("Exit status of demo: that of the program."));
        assert!(help.ends_with("\nFor more details see ns-demo(1).\n"));
    }

    #[test]
    fn coreutils_help_layout() {
        let tool = Tool {
            style: Style::Coreutils,
            usage: &["[OPTION] X", "OPTION"],
            ..TOOL
        };
        let help = tool.help("demo");
        assert!(
            help.starts_with("Usage: demo [OPTION] X\n  or:  demo OPTION\nRender a table.\n\n"),
            "{help}"
        );
        assert!(
            help.contains("\n  -f, --fork                 fork before running\n"),
            "{help}"
        );
        assert!(!help.contains("For more details"));
    }

    #[test]
    fn man_page_escapes_and_lists_every_option() {
        let man = TOOL.man("1.2.3");
        assert!(
            man.starts_with(".TH NS\\-DEMO 1 \"\" \"nstools 1.2.3\" \"nstools\"\n"),
            "{man}"
        );
        assert!(man.contains(".SH NAME\nns\\-demo \\- show how tables render\n"));
        assert!(man.contains("Second paragraph over two lines."));
        for opt in TOOL.options {
            assert!(
                man.contains(&format!("\\fB\\-\\-{}\\fR", opt.long.replace('-', "\\-"))),
                "{}",
                opt.long
            );
        }
        assert!(man.contains("\\fB\\-m\\fR, \\fB\\-\\-mount\\fR[=\\fIfile\\fR]"));
        assert!(man.contains(".SH SEE ALSO\n.BR demo (1)"));
    }

    #[test]
    fn roff_protects_control_lines() {
        assert_eq!(roff(".x\n'y\nz\\w"), "\\&.x\n\\&'y\nz\\ew");
    }

    #[test]
    fn bash_completion_covers_options_and_values() {
        let script = TOOL.bash_completion(&["demo"]);
        assert!(script.contains("_ns_demo()"));
        assert!(script.contains("'--propagation')\n\t\t\tCOMPREPLY=( $(compgen -W \"slave shared private unchanged\" -- \"$cur\") )"));
        assert!(script.contains("-f --fork -m --mount= --propagation -h --help"));
        assert!(script.contains("compgen -c -- \"$cur\""));
        assert!(script.ends_with("complete -F _ns_demo ns-demo demo\n"));
    }

    #[test]
    fn bash_accepts_the_completion_script() {
        if !std::path::Path::new("/bin/bash").exists() {
            return;
        }
        let status = std::process::Command::new("/bin/bash")
            .args(["-n", "-c", &TOOL.bash_completion(&[])])
            .status()
            .expect("run bash");
        assert!(status.success());
    }

    #[test]
    fn abbreviations_resolve_against_the_table() {
        assert_eq!(TOOL.resolve_long("fo"), Ok("fork"));
        assert!(TOOL.resolve_long("x").is_err());
    }
}
