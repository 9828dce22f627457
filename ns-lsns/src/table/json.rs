//! The JSON format: util-linux's layout (three-space indent, numbers
//! bare, empty cells `null`, a tree's children in `"children"`) and its
//! string escapes.

use std::io::{self, Write};

use super::Table;

impl Table {
    pub(super) fn print_json(&self, out: &mut Vec<u8>, order: &[usize]) -> io::Result<()> {
        let mut json = JsonWriter::new(self.json_format);
        // JSON Lines has no wrapper, and nothing at all for no rows.
        let lines = self.json_format == JsonFormat::Lines;
        if lines && order.is_empty() {
            return Ok(());
        }
        if !lines {
            json.open(out, None, JsonKind::Object)?;
            json.open(out, Some(&self.name), JsonKind::Array)?;
        }
        let tree = self.is_tree();
        let last_root = (0..self.lines.len())
            .rev()
            .find(|&i| self.lines[i].parent.is_none());
        for &line in order {
            json.open(out, None, JsonKind::Object)?;
            for (column, col) in self.columns.iter().enumerate() {
                if col.hidden {
                    continue;
                }
                let data = self.lines[line].cells.get(column).and_then(Option::as_ref);
                let data = data.filter(|d| !d.is_empty() && d[0] != 0);
                let name = col.name.to_ascii_lowercase();
                json.open(out, Some(&name), JsonKind::Value)?;
                match data {
                    None => out.write_all(b"null")?,
                    Some(data) if col.json_number => out.write_all(until_nul(data))?,
                    Some(data) => write_json_string(out, data)?,
                }
                json.close(out, JsonKind::Value)?;
            }
            if !tree {
                json.close(out, JsonKind::Object)?;
                continue;
            }
            if !self.lines[line].children.is_empty() {
                json.open(out, Some("children"), JsonKind::Array)?;
                continue;
            }
            let mut current = Some(line);
            while let Some(ln) = current {
                let is_child = self.lines[ln].parent.is_some();
                let last =
                    (is_child && self.is_last_child(ln)) || (!is_child && Some(ln) == last_root);
                json.close(out, JsonKind::Object)?;
                if last && is_child {
                    json.close(out, JsonKind::Array)?;
                }
                if !last {
                    break;
                }
                current = self.lines[ln].parent;
            }
        }
        if lines {
            out.push(b'\n');
            return Ok(());
        }
        json.close(out, JsonKind::Array)?;
        json.close(out, JsonKind::Object)
    }
}

/// A JSON string as util-linux writes it: `"` and `\` escaped, control
/// characters as short escapes or `\u00XX`, every other byte as it is.
pub fn write_json_string(out: &mut Vec<u8>, data: &[u8]) -> io::Result<()> {
    let mut text = Vec::with_capacity(data.len() + 2);
    text.push(b'"');
    for &byte in until_nul(data) {
        match byte {
            b'"' | b'\\' => {
                text.push(b'\\');
                text.push(byte);
            }
            0x08 => text.extend_from_slice(b"\\b"),
            b'\t' => text.extend_from_slice(b"\\t"),
            b'\n' => text.extend_from_slice(b"\\n"),
            0x0c => text.extend_from_slice(b"\\f"),
            b'\r' => text.extend_from_slice(b"\\r"),
            0x00..=0x1f => text.extend_from_slice(format!("\\u00{byte:02x}").as_bytes()),
            _ => text.push(byte),
        }
    }
    text.push(b'"');
    out.write_all(&text)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JsonKind {
    Object,
    Array,
    Value,
}

/// How `--json` is laid out: `LIBSMARTCOLS_JSON` (util-linux 2.42) asks
/// for `compact` (one row a line inside the usual wrapper) or `lines`
/// (JSON Lines: one row a line, no wrapper); anything else is the
/// three-space pretty layout.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum JsonFormat {
    #[default]
    Pretty,
    Compact,
    Lines,
}

impl JsonFormat {
    pub fn from_environment() -> JsonFormat {
        match std::env::var_os("LIBSMARTCOLS_JSON").as_deref() {
            Some(value) if value == "compact" => JsonFormat::Compact,
            Some(value) if value == "lines" => JsonFormat::Lines,
            _ => JsonFormat::Pretty,
        }
    }
}

/// util-linux's JSON writer (lib/jsonwrt.c): its indentation, comma and
/// newline placement for each format.
struct JsonWriter {
    indent: usize,
    after_close: bool,
    format: JsonFormat,
}

impl JsonWriter {
    fn new(format: JsonFormat) -> JsonWriter {
        JsonWriter {
            indent: 0,
            after_close: false,
            format,
        }
    }

    fn write_indent(&self, out: &mut Vec<u8>) -> io::Result<()> {
        for _ in 0..self.indent {
            out.write_all(b"   ")?;
        }
        Ok(())
    }

    /// The separator after what was closed, the indent, and the name.
    fn name(&mut self, out: &mut Vec<u8>, name: Option<&str>) -> io::Result<()> {
        if self.after_close {
            out.write_all(match self.format {
                // JSON Lines: top-level objects end a line.
                JsonFormat::Lines if self.indent == 0 => b"\n",
                JsonFormat::Lines | JsonFormat::Compact => b",",
                JsonFormat::Pretty if name.is_some() => b",\n",
                JsonFormat::Pretty => b",",
            })?;
        }
        if self.format == JsonFormat::Pretty && (name.is_some() || !self.after_close) {
            self.write_indent(out)?;
        }
        if let Some(name) = name {
            write_json_string(out, name.to_ascii_lowercase().as_bytes())?;
        }
        Ok(())
    }

    fn open(&mut self, out: &mut Vec<u8>, name: Option<&str>, kind: JsonKind) -> io::Result<()> {
        self.name(out, name)?;
        let named = name.is_some();
        let text: &[u8] = match (kind, self.format) {
            // Compact puts each row (depth 2) on a line of its own.
            (JsonKind::Object, JsonFormat::Compact) if self.indent == 2 => {
                if named {
                    b":{"
                } else {
                    b"\n{"
                }
            }
            (JsonKind::Object, JsonFormat::Compact | JsonFormat::Lines) => b"{",
            (JsonKind::Object, JsonFormat::Pretty) if named => b": {\n",
            (JsonKind::Object, JsonFormat::Pretty) => b"{\n",
            // util-linux 2.42.4 writes a named array in JSON Lines without
            // its colon (`"children"[`), which no JSON parser takes; ours
            // keeps the colon.
            (JsonKind::Array, JsonFormat::Compact | JsonFormat::Lines) if named => b":[",
            (JsonKind::Array, JsonFormat::Compact | JsonFormat::Lines) => b"[",
            (JsonKind::Array, JsonFormat::Pretty) if named => b": [\n",
            (JsonKind::Array, JsonFormat::Pretty) => b"[\n",
            (JsonKind::Value, JsonFormat::Compact | JsonFormat::Lines) if named => b":",
            (JsonKind::Value, JsonFormat::Compact | JsonFormat::Lines) => b"",
            (JsonKind::Value, JsonFormat::Pretty) if named => b": ",
            (JsonKind::Value, JsonFormat::Pretty) => b" ",
        };
        out.write_all(text)?;
        if kind != JsonKind::Value {
            self.indent += 1;
        }
        self.after_close = false;
        Ok(())
    }

    fn close(&mut self, out: &mut Vec<u8>, kind: JsonKind) -> io::Result<()> {
        let end = match kind {
            JsonKind::Object => b'}',
            JsonKind::Array => b']',
            JsonKind::Value => {
                self.after_close = true;
                return Ok(());
            }
        };
        self.indent = self.indent.saturating_sub(1);
        match self.format {
            JsonFormat::Compact if self.indent == 1 => out.push(b'\n'),
            JsonFormat::Pretty => {
                out.push(b'\n');
                self.write_indent(out)?;
            }
            _ => {}
        }
        out.push(end);
        if self.format != JsonFormat::Lines && self.indent == 0 {
            out.push(b'\n');
        }
        self.after_close = true;
        Ok(())
    }
}

/// A cell's text up to its first NUL, as C reads it.
pub(super) fn until_nul(data: &[u8]) -> &[u8] {
    match data.iter().position(|&b| b == 0) {
        Some(end) => &data[..end],
        None => data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_escape_hostile_bytes() {
        let mut out = Vec::new();
        write_json_string(&mut out, b"a\"b\\c\n\t\x01\x7f\xff").unwrap();
        assert_eq!(out, b"\"a\\\"b\\\\c\\n\\t\\u0001\x7f\xff\"");
    }
}
