//! A table printer that lays out rows exactly as util-linux's
//! libsmartcols does for lsns: aligned columns sized to their widest cell,
//! a truncated COMMAND when a terminal is too narrow, multi-line NSFS
//! cells, tree art, the raw format with `\xNN` escapes, and JSON with a
//! three-space indent.

mod json;
mod terminal;
mod text;

use std::borrow::Cow;
use std::io::{self, Write};

pub use json::{write_json_string, JsonFormat};
pub use terminal::{parse_columns, Terminal};
use text::push_hex;
pub use text::{safe_encode, safe_encode_cow, safe_width, truncate, Locale};

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

pub struct Table {
    pub columns: Vec<Column>,
    pub lines: Vec<Line>,
    pub format: Format,
    /// `LIBSMARTCOLS_JSON`'s layout for [`Format::Json`].
    pub json_format: JsonFormat,
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
            json_format: JsonFormat::from_environment(),
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
                return self.print_json(out, &[]);
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
            // Without a header line the header's width is no minimum
            // (libsmartcols 2.39+; 2.38 counted it even then).
            let header = if self.noheadings {
                0
            } else {
                safe_width(col.name.as_bytes(), self.locale)
            };
            lay.width_min = header.max(1);
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
            let widest = lay.width;
            // A column exactly as wide as its minimum keeps it: the width
            // hint widens only columns narrower than their minimum is.
            if lay.width <= lay.width_min {
                lay.width = lay.width_min;
            } else if col.width_hint >= 1
                && lay.width < col.width_hint
                && lay.width_min < col.width_hint
            {
                lay.width = col.width_hint;
            }
            // No header and no data: no width at all (its separator stays).
            if widest == 0 && header == 0 && lay.width <= 1 {
                lay.width = 0;
                lay.width_min = 0;
            }
            width += lay.width + usize::from(!self.is_last_column(column));
        }
        if !self.terminal.is_term {
            return layout;
        }
        let termwidth = self.terminal.width;
        if width < termwidth {
            width = self.grow_to_hints(&mut layout, width, termwidth);
        }
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

    /// Room left on a terminal first goes, a cell per round from the last
    /// column to the first, to columns still narrower than their width
    /// hint (libsmartcols' "absolute hint" enlargement). Returns the new
    /// line width.
    fn grow_to_hints(&self, layout: &mut [Layout], mut width: usize, termwidth: usize) -> usize {
        loop {
            let mut changed = false;
            for (column, col) in self.columns.iter().enumerate().rev() {
                let lay = &mut layout[column];
                if lay.hidden || col.width_hint < 1 || lay.width >= col.width_hint {
                    continue;
                }
                lay.width += 1;
                width += 1;
                changed = true;
                if width == termwidth {
                    return width;
                }
            }
            if !changed {
                return width;
            }
        }
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

#[cfg(test)]
mod tests;
