//! The output columns: names, headers, width hints, alignment and how each
//! is written in JSON, in util-linux's order (which `--output-all`, `-H`
//! and `--help` follow).

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ColumnId {
    Ns,
    Type,
    Path,
    Nprocs,
    Pid,
    Ppid,
    Command,
    Uid,
    User,
    Netnsid,
    Nsfs,
    Pns,
    Ons,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonType {
    String,
    Number,
}

/// How a column is laid out by default (before the options adjust it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColumnInfo {
    pub id: ColumnId,
    pub name: &'static str,
    /// Minimum width of the column when its data is narrower.
    pub width_hint: usize,
    pub right: bool,
    /// Truncated first when the table is wider than the terminal.
    pub trunc: bool,
    /// Multi-line cells (one line per `\n`-separated value).
    pub wrap: bool,
    pub json: JsonType,
    pub help: &'static str,
}

const fn info(
    id: ColumnId,
    name: &'static str,
    width_hint: usize,
    right: bool,
    json: JsonType,
    help: &'static str,
) -> ColumnInfo {
    ColumnInfo {
        id,
        name,
        width_hint,
        right,
        trunc: false,
        wrap: false,
        json,
        help,
    }
}

pub const COLUMNS: &[ColumnInfo] = &[
    info(
        ColumnId::Ns,
        "NS",
        10,
        true,
        JsonType::Number,
        "namespace identifier (inode number)",
    ),
    info(
        ColumnId::Type,
        "TYPE",
        5,
        false,
        JsonType::String,
        "kind of namespace",
    ),
    info(
        ColumnId::Path,
        "PATH",
        0,
        false,
        JsonType::String,
        "path to the namespace",
    ),
    info(
        ColumnId::Nprocs,
        "NPROCS",
        5,
        true,
        JsonType::Number,
        "number of processes in the namespace",
    ),
    info(
        ColumnId::Pid,
        "PID",
        5,
        true,
        JsonType::Number,
        "lowest PID in the namespace",
    ),
    info(
        ColumnId::Ppid,
        "PPID",
        5,
        true,
        JsonType::Number,
        "PPID of the PID",
    ),
    ColumnInfo {
        trunc: true,
        ..info(
            ColumnId::Command,
            "COMMAND",
            0,
            false,
            JsonType::String,
            "command line of the PID",
        )
    },
    info(
        ColumnId::Uid,
        "UID",
        0,
        true,
        JsonType::Number,
        "UID of the PID",
    ),
    info(
        ColumnId::User,
        "USER",
        0,
        false,
        JsonType::String,
        "username of the PID",
    ),
    info(
        ColumnId::Netnsid,
        "NETNSID",
        0,
        true,
        JsonType::String,
        "namespace ID as used by network subsystem",
    ),
    ColumnInfo {
        wrap: true,
        ..info(
            ColumnId::Nsfs,
            "NSFS",
            0,
            false,
            JsonType::String,
            "nsfs mountpoint (usually used network subsystem)",
        )
    },
    info(
        ColumnId::Pns,
        "PNS",
        10,
        true,
        JsonType::Number,
        "parent namespace identifier (inode number)",
    ),
    info(
        ColumnId::Ons,
        "ONS",
        10,
        true,
        JsonType::Number,
        "owner namespace identifier (inode number)",
    ),
];

/// util-linux keeps at most twice the number of known columns.
pub const MAX_COLUMNS: usize = 2 * 13;

pub fn info_of(id: ColumnId) -> &'static ColumnInfo {
    COLUMNS
        .iter()
        .find(|column| column.id == id)
        .expect("every column id is in the table")
}

/// A column by name, ignoring ASCII case.
pub fn by_name(name: &str) -> Option<ColumnId> {
    COLUMNS
        .iter()
        .find(|column| column.name.eq_ignore_ascii_case(name))
        .map(|column| column.id)
}

/// Why an `-o` list was refused. util-linux names the unknown column (and
/// everything after it, as its message prints the rest of the list), but
/// says nothing about an empty name or a list that is too long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListError {
    Unknown(String),
    Silent,
}

/// Applies an `-o` argument to the current column list: `+LIST` appends,
/// anything else replaces. Mirrors util-linux's list splitting, including
/// its quirk that a trailing comma belongs to the last name ("NS," is an
/// unknown column).
pub fn apply_list(list: &str, current: &mut Vec<ColumnId>) -> Result<(), ListError> {
    if list.is_empty() {
        return Err(ListError::Silent);
    }
    let (body, mut columns) = match list.strip_prefix('+') {
        Some(rest) => (rest, current.clone()),
        None => (list, Vec::new()),
    };
    if body.is_empty() {
        return Err(ListError::Silent);
    }
    let bytes = body.as_bytes();
    let mut begin: Option<usize> = None;
    for (i, &byte) in bytes.iter().enumerate() {
        if columns.len() >= MAX_COLUMNS {
            return Err(ListError::Silent);
        }
        let start = *begin.get_or_insert(i);
        let mut end = None;
        if byte == b',' {
            end = Some(i);
        }
        if i + 1 == bytes.len() {
            end = Some(i + 1);
        }
        let Some(end) = end else { continue };
        if end <= start {
            return Err(ListError::Silent);
        }
        let name = &body[start..end];
        match by_name(name) {
            Some(id) => columns.push(id),
            None => return Err(ListError::Unknown(body[start..].to_string())),
        }
        begin = None;
    }
    *current = columns;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ColumnId::*;

    #[test]
    fn names_are_case_insensitive() {
        assert_eq!(by_name("netnsid"), Some(Netnsid));
        assert_eq!(by_name("Ns"), Some(Ns));
        assert_eq!(by_name("N"), None);
    }

    #[test]
    fn list_replaces_or_appends() {
        let mut columns = vec![Ns, Type];
        apply_list("pid,user", &mut columns).unwrap();
        assert_eq!(columns, [Pid, User]);
        apply_list("+ns", &mut columns).unwrap();
        assert_eq!(columns, [Pid, User, Ns]);
    }

    #[test]
    fn unknown_names_report_the_rest_of_the_list() {
        let mut columns = vec![Ns];
        assert_eq!(
            apply_list("pid,FOO,ns", &mut columns),
            Err(ListError::Unknown("FOO,ns".into()))
        );
        assert_eq!(
            apply_list("NS,", &mut columns),
            Err(ListError::Unknown("NS,".into()))
        );
        assert_eq!(columns, [Ns], "a failed list changes nothing");
    }

    #[test]
    fn empty_names_fail_silently() {
        let mut columns = vec![];
        assert_eq!(apply_list("", &mut columns), Err(ListError::Silent));
        assert_eq!(apply_list("+", &mut columns), Err(ListError::Silent));
        assert_eq!(apply_list("NS,,PID", &mut columns), Err(ListError::Silent));
        assert_eq!(apply_list(",NS", &mut columns), Err(ListError::Silent));
    }

    #[test]
    fn too_many_columns_fail_silently() {
        let mut columns = vec![];
        let list = vec!["ns"; MAX_COLUMNS + 1].join(",");
        assert_eq!(apply_list(&list, &mut columns), Err(ListError::Silent));
        let list = vec!["ns"; MAX_COLUMNS].join(",");
        assert!(apply_list(&list, &mut columns).is_ok());
    }
}
