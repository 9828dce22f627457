//! A table printer that lays out rows exactly as util-linux's
//! libsmartcols does for lsns: aligned columns sized to their widest cell,
//! a truncated COMMAND when a terminal is too narrow, multi-line NSFS
//! cells, tree art, the raw format with `\xNN` escapes, and JSON with a
//! three-space indent.

use std::borrow::Cow;
use std::io::{self, Write};

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Human,
    Raw,
    Json,
}

#[derive(Debug, Clone, Default)]
pub struct Column {
    pub name: String,
    /// An absolute minimum width (0: none).
    pub width_hint: usize,
    pub right: bool,
    pub trunc: bool,
    pub tree: bool,
    /// One line per `\n`-separated chunk (the NSFS column).
    pub wrap_nl: bool,
    pub json_number: bool,
    /// Filled for a filter but not printed.
    pub hidden: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Line {
    pub cells: Vec<Option<Vec<u8>>>,
    pub parent: Option<usize>,
    pub children: Vec<usize>,
}

/// Character handling of the locale in effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Locale {
    pub utf8: bool,
}

impl Locale {
    /// Sets the locale from the environment (as util-linux's `setlocale`)
    /// and reports whether its character set is UTF-8.
    pub fn from_environment() -> Locale {
        // SAFETY: setlocale and nl_langinfo are called before any other
        // thread exists; the returned string is read at once.
        let utf8 = unsafe {
            libc::setlocale(libc::LC_ALL, c"".as_ptr());
            let codeset = libc::nl_langinfo(libc::CODESET);
            !codeset.is_null() && std::ffi::CStr::from_ptr(codeset).to_bytes() == b"UTF-8"
        };
        Locale { utf8 }
    }

    fn branch(self) -> &'static str {
        if self.utf8 {
            "\u{251c}\u{2500}"
        } else {
            "|-"
        }
    }

    fn right(self) -> &'static str {
        if self.utf8 {
            "\u{2514}\u{2500}"
        } else {
            "`-"
        }
    }

    fn vertical(self) -> &'static str {
        if self.utf8 {
            "\u{2502} "
        } else {
            "| "
        }
    }
}

extern "C" {
    fn wcwidth(c: libc::wchar_t) -> libc::c_int;
    fn iswprint(c: libc::c_uint) -> libc::c_int;
}

fn char_width(c: char) -> usize {
    // SAFETY: pure functions of their argument (and the locale).
    let width = unsafe { wcwidth(c as libc::wchar_t) };
    width.max(0) as usize
}

fn char_printable(c: char) -> bool {
    // SAFETY: a pure function of its argument (and the locale).
    unsafe { iswprint(c as libc::c_uint) != 0 }
}

fn push_hex(out: &mut Vec<u8>, byte: u8) {
    out.extend_from_slice(format!("\\x{byte:02x}").as_bytes());
}

/// Makes a cell safe for a terminal: control characters, bytes that are
/// not valid characters, non-printable characters and the backslash of a
/// literal `\x` become `\xNN`. Returns the text and its width in cells.
pub fn safe_encode(data: &[u8], safechars: &[u8], locale: Locale) -> (Vec<u8>, usize) {
    let mut out = Vec::with_capacity(data.len());
    let mut width = 0;
    let mut i = 0;
    while i < data.len() {
        let byte = data[i];
        if byte == 0 {
            break;
        }
        if safechars.contains(&byte) {
            out.push(byte);
            i += 1;
            continue;
        }
        if (byte == b'\\' && data.get(i + 1) == Some(&b'x')) || byte < 0x20 || byte == 0x7f {
            push_hex(&mut out, byte);
            width += 4;
            i += 1;
            continue;
        }
        if byte < 0x80 {
            out.push(byte);
            width += 1;
            i += 1;
            continue;
        }
        if !locale.utf8 {
            push_hex(&mut out, byte);
            width += 4;
            i += 1;
            continue;
        }
        match decode_utf8(&data[i..]) {
            Some((c, len)) if char_printable(c) => {
                out.extend_from_slice(&data[i..i + len]);
                width += char_width(c);
                i += len;
            }
            Some((_, len)) => {
                for &b in &data[i..i + len] {
                    push_hex(&mut out, b);
                    width += 4;
                }
                i += len;
            }
            None => {
                push_hex(&mut out, byte);
                width += 4;
                i += 1;
            }
        }
    }
    (out, width)
}

/// Whether [`safe_encode`] leaves `data` as it is, one cell per byte:
/// printable ASCII without a backslash or a byte of `safechars`.
fn is_plain(data: &[u8], safechars: &[u8]) -> bool {
    data.iter()
        .all(|&b| (0x20..0x7f).contains(&b) && b != b'\\' && !safechars.contains(&b))
}

/// [`safe_encode`] without a copy of a cell that needs no encoding (most).
pub fn safe_encode_cow<'a>(
    data: &'a [u8],
    safechars: &[u8],
    locale: Locale,
) -> (Cow<'a, [u8]>, usize) {
    if is_plain(data, safechars) {
        return (Cow::Borrowed(data), data.len());
    }
    let (encoded, width) = safe_encode(data, safechars, locale);
    (Cow::Owned(encoded), width)
}

/// The width a cell takes once made safe.
pub fn safe_width(data: &[u8], locale: Locale) -> usize {
    if is_plain(data, b"") {
        return data.len();
    }
    safe_encode(data, b"", locale).1
}

/// One UTF-8 character at the start of `data`, and its length.
fn decode_utf8(data: &[u8]) -> Option<(char, usize)> {
    let len = match data.first()? {
        0x00..=0x7f => 1,
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => return None,
    };
    let text = std::str::from_utf8(data.get(..len)?).ok()?;
    text.chars().next().map(|c| (c, len))
}

/// Cuts safe (already encoded) text to at most `width` cells; returns
/// the byte length kept and the cells used.
pub fn truncate(data: &[u8], width: usize, locale: Locale) -> (usize, usize) {
    let mut cells = 0;
    let mut i = 0;
    while i < data.len() {
        let (w, len) = if data[i] < 0x80 || !locale.utf8 {
            (1, 1)
        } else {
            match decode_utf8(&data[i..]) {
                Some((c, len)) => (char_width(c), len),
                None => (1, 1),
            }
        };
        if cells + w > width {
            break;
        }
        cells += w;
        i += len;
    }
    (i, cells)
}

/// Where the output goes and how wide it may be.
#[derive(Debug, Clone, Copy)]
pub struct Terminal {
    pub is_term: bool,
    pub width: usize,
}

impl Terminal {
    /// stdout's terminal width, else `COLUMNS`, else 80.
    pub fn detect() -> Terminal {
        // SAFETY: isatty has no preconditions.
        let is_term = unsafe { libc::isatty(1) } == 1;
        // SAFETY: a zeroed winsize is a valid out-parameter.
        let mut size: libc::winsize = unsafe { std::mem::zeroed() };
        // SAFETY: TIOCGWINSZ writes one winsize.
        let cols = if unsafe { libc::ioctl(1, libc::TIOCGWINSZ, &mut size) } == 0 {
            size.ws_col as usize
        } else {
            0
        };
        let width = if cols > 0 {
            cols
        } else {
            std::env::var("COLUMNS")
                .ok()
                .and_then(|value| parse_columns(&value))
                .unwrap_or(80)
        };
        Terminal { is_term, width }
    }
}

/// `COLUMNS` as util-linux reads it: a whole positive decimal number.
pub fn parse_columns(value: &str) -> Option<usize> {
    let trimmed = value.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let digits = trimmed.strip_prefix('+').unwrap_or(trimmed);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let number: u64 = digits.parse().ok()?;
    (number > 0 && number <= i32::MAX as u64).then_some(number as usize)
}

pub struct Table {
    pub columns: Vec<Column>,
    pub lines: Vec<Line>,
    pub format: Format,
    pub noheadings: bool,
    /// The JSON array's name.
    pub name: String,
    pub locale: Locale,
    pub terminal: Terminal,
}

/// A cell made safe to print, with its width and its tree art's width.
#[derive(Debug, Default)]
struct Encoded<'a> {
    text: Cow<'a, [u8]>,
    width: usize,
    art_width: usize,
}

/// Per-column layout state while printing.
#[derive(Debug, Clone, Default)]
struct Layout {
    width: usize,
    width_min: usize,
    width_treeart: usize,
    pending: Option<Vec<u8>>,
    hidden: bool,
    trunc: bool,
}

impl Table {
    pub fn new(format: Format, locale: Locale, terminal: Terminal) -> Table {
        Table {
            columns: Vec::new(),
            lines: Vec::new(),
            format,
            noheadings: false,
            name: String::new(),
            locale,
            terminal,
        }
    }

    /// Adds a line (under `parent` for the tree views); returns its index.
    pub fn add_line(&mut self, cells: Vec<Option<Vec<u8>>>, parent: Option<usize>) -> usize {
        let index = self.lines.len();
        self.lines.push(Line {
            cells,
            parent,
            children: Vec::new(),
        });
        if let Some(parent) = parent {
            self.lines[parent].children.push(index);
        }
        index
    }

    fn is_tree(&self) -> bool {
        self.columns.iter().any(|column| column.tree)
    }

    /// The lines in print order: roots in order, each followed by its
    /// children depth first.
    fn walk_order(&self) -> Vec<usize> {
        let mut order = Vec::with_capacity(self.lines.len());
        if !self.is_tree() {
            order.extend(0..self.lines.len());
            return order;
        }
        let mut stack: Vec<usize> = Vec::new();
        for root in (0..self.lines.len()).filter(|&i| self.lines[i].parent.is_none()) {
            stack.push(root);
            while let Some(line) = stack.pop() {
                order.push(line);
                stack.extend(self.lines[line].children.iter().rev());
            }
        }
        order
    }

    fn is_last_child(&self, line: usize) -> bool {
        match self.lines[line].parent {
            Some(parent) => self.lines[parent].children.last() == Some(&line),
            None => false,
        }
    }

    /// The art before a line's own branch: one `│ ` or two spaces per
    /// ancestor below the root.
    fn art_of(&self, line: usize, out: &mut Vec<u8>) {
        if let Some(parent) = self.lines[line].parent {
            self.art_of(parent, out);
            out.extend_from_slice(if self.is_last_child(line) {
                b"  "
            } else {
                self.locale.vertical().as_bytes()
            });
        }
    }

    /// The tree art before a line's cell in a tree column (its ancestors'
    /// pieces, then its own branch), or `None` where there is none.
    fn tree_art(&self, line: usize, column: usize) -> Option<Vec<u8>> {
        let parent = self.lines[line].parent?;
        if !self.columns[column].tree || self.format == Format::Json {
            return None;
        }
        let mut art = Vec::with_capacity(16);
        self.art_of(parent, &mut art);
        art.extend_from_slice(if self.is_last_child(line) {
            self.locale.right().as_bytes()
        } else {
            self.locale.branch().as_bytes()
        });
        Some(art)
    }

    /// A cell as printed before encoding: tree art, then data. Returns the
    /// length of the art.
    fn cell_buffer(&self, line: usize, column: usize) -> (Cow<'_, [u8]>, usize) {
        let data = self.lines[line].cells.get(column).and_then(Option::as_ref);
        let data = data.map_or(&[][..], Vec::as_slice);
        let Some(mut buffer) = self.tree_art(line, column) else {
            return (Cow::Borrowed(data), 0);
        };
        let art = buffer.len();
        buffer.extend_from_slice(data);
        (Cow::Owned(buffer), art)
    }

    /// A cell of the human format, made safe once for both the width
    /// pass and the printing: tree art (every piece two cells wide, and
    /// printable), then the cell's data made safe.
    fn encode_cell(&self, line: usize, column: usize) -> Encoded<'_> {
        let data = self.lines[line].cells.get(column).and_then(Option::as_ref);
        let data = data.map_or(&[][..], Vec::as_slice);
        let (text, width) = safe_encode_cow(data, self.safechars(column), self.locale);
        let Some(mut art) = self.tree_art(line, column) else {
            return Encoded {
                text,
                width,
                art_width: 0,
            };
        };
        let art_width = 2 * (self.depth(line) + 1);
        art.extend_from_slice(&text);
        Encoded {
            text: Cow::Owned(art),
            width: width + art_width,
            art_width,
        }
    }

    /// How many ancestors a line has below its root.
    fn depth(&self, line: usize) -> usize {
        let mut depth = 0;
        let mut at = self.lines[line].parent;
        while let Some(parent) = at {
            at = self.lines[parent].parent;
            if at.is_some() {
                depth += 1;
            }
        }
        depth
    }

    fn is_last_column(&self, column: usize) -> bool {
        if column + 1 == self.columns.len() {
            return true;
        }
        let next = column + 1;
        self.columns[next].hidden && self.is_last_column(next)
    }

    pub fn print(&self, out: &mut Vec<u8>) -> io::Result<()> {
        if self.lines.is_empty() {
            if self.format == Format::Json {
                let mut json = JsonWriter::new();
                json.open(out, None, JsonKind::Object)?;
                json.open(out, Some(&self.name), JsonKind::Array)?;
                json.close(out, JsonKind::Array)?;
                json.close(out, JsonKind::Object)?;
            }
            return Ok(());
        }
        let order = self.walk_order();
        match self.format {
            Format::Json => self.print_json(out, &order),
            Format::Raw => {
                if !self.noheadings {
                    let names: Vec<Vec<u8>> = self
                        .columns
                        .iter()
                        .map(|column| column.name.as_bytes().to_vec())
                        .collect();
                    self.print_raw_row(out, &names)?;
                    out.write_all(b"\n")?;
                }
                for (n, &line) in order.iter().enumerate() {
                    let cells: Vec<Vec<u8>> = (0..self.columns.len())
                        .map(|column| self.cell_buffer(line, column).0.into_owned())
                        .collect();
                    self.print_raw_row(out, &cells)?;
                    if n + 1 < order.len() {
                        out.write_all(b"\n")?;
                    }
                }
                out.write_all(b"\n")
            }
            Format::Human => self.print_human(out, &order),
        }
    }

    fn print_raw_row(&self, out: &mut Vec<u8>, cells: &[Vec<u8>]) -> io::Result<()> {
        for (column, data) in cells.iter().enumerate() {
            if self.columns[column].hidden {
                continue;
            }
            let mut escaped = Vec::with_capacity(data.len());
            for &byte in data {
                if byte == 0 {
                    break;
                }
                if byte == b' ' || byte == b'\t' || byte == b'\\' || !(0x21..0x7f).contains(&byte) {
                    push_hex(&mut escaped, byte);
                } else {
                    escaped.push(byte);
                }
            }
            out.write_all(&escaped)?;
            if !self.is_last_column(column) {
                out.write_all(b" ")?;
            }
        }
        Ok(())
    }

    fn print_json(&self, out: &mut Vec<u8>, order: &[usize]) -> io::Result<()> {
        let mut json = JsonWriter::new();
        json.open(out, None, JsonKind::Object)?;
        json.open(out, Some(&self.name), JsonKind::Array)?;
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
        json.close(out, JsonKind::Array)?;
        json.close(out, JsonKind::Object)
    }

    fn print_human(&self, out: &mut Vec<u8>, order: &[usize]) -> io::Result<()> {
        let cells: Vec<Vec<Encoded>> = order
            .iter()
            .map(|&line| {
                (0..self.columns.len())
                    .map(|column| match self.columns[column].hidden {
                        true => Encoded::default(),
                        false => self.encode_cell(line, column),
                    })
                    .collect()
            })
            .collect();
        let mut layout = self.calculate(order, &cells);
        if !self.noheadings {
            for (column, col) in self.columns.iter().enumerate() {
                if layout[column].hidden {
                    continue;
                }
                let (data, len) = safe_encode_cow(col.name.as_bytes(), b"", self.locale);
                self.print_data(out, &mut layout, column, None, data, len)?;
            }
            out.write_all(b"\n")?;
        }
        for (n, &line) in order.iter().enumerate() {
            self.print_line(out, &mut layout, line, &cells[n])?;
            if n + 1 < order.len() {
                out.write_all(b"\n")?;
            }
        }
        out.write_all(b"\n")
    }

    fn safechars(&self, column: usize) -> &'static [u8] {
        if self.columns[column].wrap_nl {
            b"\n"
        } else {
            b""
        }
    }

    /// Column widths, as libsmartcols computes them.
    fn calculate(&self, order: &[usize], cells: &[Vec<Encoded>]) -> Vec<Layout> {
        let mut layout: Vec<Layout> = self
            .columns
            .iter()
            .map(|col| Layout {
                hidden: col.hidden,
                trunc: col.trunc,
                ..Layout::default()
            })
            .collect();
        let mut width = 0usize;
        for (column, col) in self.columns.iter().enumerate() {
            if col.hidden {
                continue;
            }
            let lay = &mut layout[column];
            lay.width_min = safe_width(col.name.as_bytes(), self.locale).max(1);
            for (n, &line) in order.iter().enumerate() {
                let cell = &cells[n][column];
                let len = if col.wrap_nl {
                    // The widest of its lines (a wrapping column has no art).
                    let data = self.lines[line].cells.get(column).and_then(Option::as_ref);
                    data.map_or(&[][..], Vec::as_slice)
                        .split(|&b| b == b'\n')
                        .map(|chunk| safe_width(chunk, self.locale))
                        .max()
                        .unwrap_or(0)
                } else {
                    cell.width
                };
                lay.width = lay.width.max(len);
                if col.tree && self.lines[line].parent.is_some() {
                    lay.width_treeart = lay.width_treeart.max(cell.art_width);
                }
            }
            if lay.width < lay.width_min {
                lay.width = lay.width_min;
            } else if col.width_hint >= 1
                && lay.width < col.width_hint
                && lay.width_min < col.width_hint
            {
                lay.width = col.width_hint;
            }
            width += lay.width + usize::from(!self.is_last_column(column));
        }
        if !self.terminal.is_term {
            return layout;
        }
        let termwidth = self.terminal.width;
        if width < termwidth {
            // The last column (even a hidden one) takes the rest of the
            // line, unless it is right-aligned.
            if let Some(last) = self.columns.len().checked_sub(1) {
                if !self.columns[last].right {
                    layout[last].width += termwidth - width;
                    width = termwidth;
                }
            }
        }
        // Too wide: shave the truncatable columns one cell at a time, in
        // turn, as long as that helps.
        while width > termwidth {
            let before = width;
            for (column, col) in self.columns.iter().enumerate() {
                let lay = &mut layout[column];
                if lay.hidden {
                    continue;
                }
                if width <= termwidth {
                    break;
                }
                if lay.width == lay.width_min {
                    continue;
                }
                // libsmartcols compares the whole line's width here.
                if col.tree && width <= lay.width_treeart {
                    continue;
                }
                if lay.width == 0 || !col.trunc {
                    continue;
                }
                lay.width -= 1;
                width -= 1;
                if lay.width == 0 {
                    lay.hidden = true;
                }
            }
            if before == width {
                break;
            }
        }
        layout
    }

    fn print_line(
        &self,
        out: &mut Vec<u8>,
        layout: &mut [Layout],
        line: usize,
        cells: &[Encoded],
    ) -> io::Result<()> {
        let mut pending = false;
        for column in 0..self.columns.len() {
            if layout[column].hidden {
                continue;
            }
            let cell = &cells[column];
            let data = Cow::Borrowed(&cell.text[..]);
            self.print_data(out, layout, column, Some(line), data, cell.width)?;
            if layout[column].pending.is_some() {
                pending = true;
            }
        }
        while pending {
            pending = false;
            out.write_all(b"\n")?;
            for column in 0..self.columns.len() {
                if layout[column].hidden {
                    continue;
                }
                if layout[column].pending.is_some() {
                    self.print_pending(out, layout, column)?;
                    if layout[column].pending.is_some() {
                        pending = true;
                    }
                } else {
                    self.print_empty_cell(out, layout, column, Some(line))?;
                }
            }
        }
        Ok(())
    }

    fn print_data(
        &self,
        out: &mut Vec<u8>,
        layout: &mut [Layout],
        column: usize,
        line: Option<usize>,
        encoded: Cow<'_, [u8]>,
        mut len: usize,
    ) -> io::Result<()> {
        let col = &self.columns[column];
        let is_last = self.is_last_column(column);
        let mut width = layout[column].width;
        let mut data: &[u8] = &encoded;
        if col.wrap_nl && !data.is_empty() {
            if let Some(newline) = data.iter().position(|&b| b == b'\n') {
                let rest = data[newline + 1..].to_vec();
                layout[column].pending = (!rest.is_empty()).then_some(rest);
                data = &data[..newline];
                len = safe_width(data, self.locale);
            }
        }
        if is_last && len < width && !col.right {
            width = len;
        }
        if len > width && layout[column].trunc {
            let (bytes, cells) = truncate(data, width, self.locale);
            data = &data[..bytes];
            len = cells;
        }
        if !data.is_empty() {
            if col.right {
                pad(out, width.saturating_sub(len))?;
                len = width;
            }
            put(out, data);
        }
        if is_last {
            return Ok(());
        }
        pad(out, width.saturating_sub(len))?;
        if len > width && !layout[column].trunc {
            out.write_all(b"\n")?;
            for before in 0..=column {
                self.print_empty_cell(out, layout, before, line)?;
            }
            Ok(())
        } else {
            out.push(b' ');
            Ok(())
        }
    }

    fn print_pending(
        &self,
        out: &mut Vec<u8>,
        layout: &mut [Layout],
        column: usize,
    ) -> io::Result<()> {
        let width = layout[column].width;
        let Some(mut data) = layout[column].pending.take() else {
            return Ok(());
        };
        let len;
        if let Some(newline) = data.iter().position(|&b| b == b'\n') {
            let rest = data[newline + 1..].to_vec();
            layout[column].pending = (!rest.is_empty()).then_some(rest);
            data.truncate(newline);
            len = safe_width(&data, self.locale);
        } else {
            let (bytes, cells) = truncate(&data, width, self.locale);
            if bytes < data.len() {
                layout[column].pending = Some(data[bytes..].to_vec());
            }
            data.truncate(bytes);
            len = cells;
        }
        put(out, &data);
        if self.is_last_column(column) {
            return Ok(());
        }
        pad(out, width.saturating_sub(len))?;
        out.write_all(b" ")
    }

    fn print_empty_cell(
        &self,
        out: &mut Vec<u8>,
        layout: &[Layout],
        column: usize,
        line: Option<usize>,
    ) -> io::Result<()> {
        let mut len = 0;
        if let (Some(line), true) = (line, self.columns[column].tree) {
            let mut art = Vec::new();
            self.art_of(line, &mut art);
            if !self.lines[line].children.is_empty()
                && layout.iter().any(|l| !l.hidden && l.pending.is_some())
            {
                art.extend_from_slice(self.locale.vertical().as_bytes());
            }
            let (art, width) = safe_encode(&art, b"", self.locale);
            out.write_all(&art)?;
            len = width;
        }
        if self.is_last_column(column) {
            return Ok(());
        }
        pad(out, layout[column].width.saturating_sub(len))?;
        out.write_all(b" ")
    }
}

fn pad(out: &mut Vec<u8>, n: usize) -> io::Result<()> {
    out.resize(out.len() + n, b' ');
    Ok(())
}

/// Appends a cell's bytes: short ones byte by byte, which beats a call to
/// the C library's memcpy for the few bytes most cells have.
fn put(out: &mut Vec<u8>, data: &[u8]) {
    if data.len() > 16 {
        out.extend_from_slice(data);
        return;
    }
    out.reserve(data.len());
    for &byte in data {
        out.push(byte);
    }
}

fn until_nul(data: &[u8]) -> &[u8] {
    match data.iter().position(|&b| b == 0) {
        Some(end) => &data[..end],
        None => data,
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

/// util-linux's JSON writer: its indentation and comma placement.
struct JsonWriter {
    indent: usize,
    after_close: bool,
}

impl JsonWriter {
    fn new() -> JsonWriter {
        JsonWriter {
            indent: 0,
            after_close: false,
        }
    }

    fn write_indent(&self, out: &mut Vec<u8>) -> io::Result<()> {
        for _ in 0..self.indent {
            out.write_all(b"   ")?;
        }
        Ok(())
    }

    fn open(&mut self, out: &mut Vec<u8>, name: Option<&str>, kind: JsonKind) -> io::Result<()> {
        match name {
            Some(name) => {
                if self.after_close {
                    out.write_all(b",\n")?;
                }
                self.write_indent(out)?;
                write_json_string(out, name.to_ascii_lowercase().as_bytes())?;
            }
            None => {
                if self.after_close {
                    out.write_all(b",")?;
                } else {
                    self.write_indent(out)?;
                }
            }
        }
        let named = name.is_some();
        match kind {
            JsonKind::Object => {
                out.write_all(if named { b": {\n" } else { b"{\n" })?;
                self.indent += 1;
            }
            JsonKind::Array => {
                out.write_all(if named { b": [\n" } else { b"[\n" })?;
                self.indent += 1;
            }
            JsonKind::Value => out.write_all(if named { b": " } else { b" " })?,
        }
        self.after_close = false;
        Ok(())
    }

    fn close(&mut self, out: &mut Vec<u8>, kind: JsonKind) -> io::Result<()> {
        if self.indent == 1 {
            out.write_all(b"\n}\n")?;
            self.indent = 0;
            self.after_close = true;
            return Ok(());
        }
        match kind {
            JsonKind::Object | JsonKind::Array => {
                self.indent = self.indent.saturating_sub(1);
                out.write_all(b"\n")?;
                self.write_indent(out)?;
                out.write_all(if kind == JsonKind::Object { b"}" } else { b"]" })?;
            }
            JsonKind::Value => {}
        }
        self.after_close = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const UTF8: Locale = Locale { utf8: true };
    const ASCII: Locale = Locale { utf8: false };

    fn column(name: &str) -> Column {
        Column {
            name: name.to_string(),
            ..Column::default()
        }
    }

    fn cells(values: &[&str]) -> Vec<Option<Vec<u8>>> {
        values
            .iter()
            .map(|v| (!v.is_empty()).then(|| v.as_bytes().to_vec()))
            .collect()
    }

    fn render(table: &Table) -> String {
        let mut out = Vec::new();
        table.print(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn piped() -> Terminal {
        Terminal {
            is_term: false,
            width: 80,
        }
    }

    fn sample(format: Format, terminal: Terminal) -> Table {
        let mut table = Table::new(format, ASCII, terminal);
        table.columns = vec![
            Column {
                width_hint: 10,
                right: true,
                json_number: true,
                ..column("NS")
            },
            Column {
                width_hint: 5,
                ..column("TYPE")
            },
            Column {
                trunc: true,
                tree: true,
                ..column("COMMAND")
            },
        ];
        let root = table.add_line(cells(&["1", "net", "init --foo"]), None);
        table.add_line(cells(&["22", "mnt", "sh -c x"]), Some(root));
        table.add_line(cells(&["333", "uts", "sleep 1"]), Some(root));
        table
    }

    #[test]
    fn aligned_columns_and_tree() {
        assert_eq!(
            render(&sample(Format::Human, piped())),
            "        NS TYPE COMMAND\n         1 net  init --foo\n        22 mnt  |-sh -c x\n       333 uts  `-sleep 1\n"
        );
    }

    #[test]
    fn narrow_terminal_truncates_the_command() {
        let terminal = Terminal {
            is_term: true,
            width: 24,
        };
        assert_eq!(
            render(&sample(Format::Human, terminal)),
            "        NS TYPE COMMAND\n         1 net  init --f\n        22 mnt  |-sh -c \n       333 uts  `-sleep \n"
        );
    }

    #[test]
    fn raw_escapes_blanks_and_art() {
        assert_eq!(
            render(&sample(Format::Raw, piped())),
            "NS TYPE COMMAND\n1 net init\\x20--foo\n22 mnt |-sh\\x20-c\\x20x\n333 uts `-sleep\\x201\n"
        );
    }

    #[test]
    fn json_tree_has_children() {
        let mut table = sample(Format::Json, piped());
        table.name = "namespaces".into();
        let text = render(&table);
        assert!(text.starts_with("{\n   \"namespaces\": [\n      {\n         \"ns\": 1,\n"));
        assert!(text.contains("\"children\": [\n            {\n"));
        assert!(
            text.ends_with("            }\n         ]\n      }\n   ]\n}\n"),
            "{text}"
        );
    }

    #[test]
    fn empty_json_table() {
        let mut table = Table::new(Format::Json, ASCII, piped());
        table.name = "namespaces".into();
        table.columns = vec![column("NS")];
        assert_eq!(render(&table), "{\n   \"namespaces\": [\n\n   ]\n}\n");
        table.format = Format::Human;
        assert_eq!(render(&table), "");
    }

    #[test]
    fn json_strings_escape_hostile_bytes() {
        let mut out = Vec::new();
        write_json_string(&mut out, b"a\"b\\c\n\t\x01\x7f\xff").unwrap();
        assert_eq!(out, b"\"a\\\"b\\\\c\\n\\t\\u0001\x7f\xff\"");
    }

    #[test]
    fn safe_encoding() {
        assert_eq!(safe_encode(b"a\x1bb", b"", ASCII), (b"a\\x1bb".to_vec(), 6));
        assert_eq!(safe_encode(b"\\x41", b"", ASCII), (b"\\x5cx41".to_vec(), 7));
        assert_eq!(
            safe_encode(b"\xc3\xa9", b"", ASCII),
            (b"\\xc3\\xa9".to_vec(), 8)
        );
        assert_eq!(safe_encode(b"a\nb", b"\n", ASCII), (b"a\nb".to_vec(), 2));
    }

    #[test]
    fn truncation_counts_cells() {
        assert_eq!(truncate(b"abcdef", 3, ASCII), (3, 3));
        assert_eq!(truncate(b"ab", 3, ASCII), (2, 2));
    }

    #[test]
    fn utf8_decoding_refuses_bad_sequences() {
        assert_eq!(decode_utf8(b"\xc3\xa9x"), Some(('\u{e9}', 2)));
        assert_eq!(decode_utf8(b"\xc3"), None);
        assert_eq!(decode_utf8(b"\xed\xa0\x80"), None, "surrogate");
        assert_eq!(decode_utf8(b"\xc0\x80"), None, "overlong");
        let _ = UTF8;
    }

    #[test]
    fn columns_variable() {
        assert_eq!(parse_columns("100"), Some(100));
        assert_eq!(parse_columns(" 42"), Some(42));
        assert_eq!(parse_columns("0"), None);
        assert_eq!(parse_columns("12x"), None);
        assert_eq!(parse_columns(""), None);
        assert_eq!(parse_columns("-5"), None);
    }
}
