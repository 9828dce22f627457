use super::*;

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

/// util-linux 2.42 (libsmartcols 2.39+): without headings a header
/// sets no minimum, a width hint widens only columns wider than the
/// minimum, and a column with neither header nor data has no width.
#[test]
fn headerless_widths_of_2_42() {
    let mut table = Table::new(Format::Human, ASCII, piped());
    table.noheadings = true;
    table.columns = vec![
        Column {
            width_hint: 5,
            right: true,
            ..column("NPROCS")
        },
        Column {
            width_hint: 5,
            right: true,
            ..column("PID")
        },
        column("NSFS"),
        column("TYPE"),
    ];
    table.add_line(cells(&["12", "7", "", "net"]), None);
    table.add_line(cells(&["3", "1", "", "mnt"]), None);
    assert_eq!(render(&table), "   12 7  net\n    3 1  mnt\n");
    table.noheadings = false;
    assert_eq!(
        render(&table),
        "NPROCS PID NSFS TYPE\n    12   7      net\n     3   1      mnt\n"
    );
}

/// On a terminal with room to spare, columns narrower than their width
/// hint grow to it (last column first) before the last column takes
/// the rest.
#[test]
fn room_on_a_terminal_goes_to_width_hints_first() {
    let mut table = Table::new(
        Format::Human,
        ASCII,
        Terminal {
            is_term: true,
            width: 14,
        },
    );
    table.columns = vec![
        Column {
            width_hint: 5,
            right: true,
            ..column("PID")
        },
        Column {
            width_hint: 5,
            ..column("TYPE")
        },
        column("C"),
    ];
    table.add_line(cells(&["1", "net", "x"]), None);
    // PID and TYPE grow to 5 (TYPE first), C takes what is left.
    assert_eq!(render(&table), "  PID TYPE  C\n    1 net   x\n");
    table.terminal.width = 11;
    // Only one cell to spare: it goes to TYPE, the later column.
    assert_eq!(render(&table), "PID TYPE  C\n  1 net   x\n");
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
fn compact_and_lines_json() {
    let mut table = sample(Format::Json, piped());
    table.name = "namespaces".into();
    table.json_format = JsonFormat::Compact;
    assert_eq!(
        render(&table),
        "{\"namespaces\":[\n{\"ns\":1,\"type\":\"net\",\"command\":\"init --foo\",\"children\":[{\"ns\":22,\"type\":\"mnt\",\"command\":\"sh -c x\"},{\"ns\":333,\"type\":\"uts\",\"command\":\"sleep 1\"}]}\n]}\n"
    );
    table.json_format = JsonFormat::Lines;
    assert_eq!(
        render(&table),
        "{\"ns\":1,\"type\":\"net\",\"command\":\"init --foo\",\"children\":[{\"ns\":22,\"type\":\"mnt\",\"command\":\"sh -c x\"},{\"ns\":333,\"type\":\"uts\",\"command\":\"sleep 1\"}]}\n"
    );
    table.columns[2].tree = false;
    for line in &mut table.lines {
        line.parent = None;
    }
    assert_eq!(render(&table).lines().count(), 3, "a line per row");
    table.lines.clear();
    assert_eq!(render(&table), "", "no rows, no lines");
    table.json_format = JsonFormat::Compact;
    assert_eq!(render(&table), "{\"namespaces\":[\n]}\n");
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
