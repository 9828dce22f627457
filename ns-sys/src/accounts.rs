//! The account database of a root filesystem: `/etc/passwd` and
//! `/etc/group` read as files. Our binaries are static, so there is no NSS;
//! and the database that matters is the one of the root in effect (the new
//! root after `chroot`, the target of a bootstrap), which is exactly what
//! reading the files gives.

use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: String,
    pub shell: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub name: String,
    pub gid: u32,
    pub members: Vec<String>,
}

/// Lines that the files backend of glibc skips: blank ones, comments and
/// the `+`/`-` NIS compat entries (which name no local account).
fn is_entry(line: &str) -> bool {
    let line = line.trim_start();
    !(line.is_empty() || line.starts_with('#') || line.starts_with('+') || line.starts_with('-'))
}

fn id_field(field: Option<&str>) -> Option<u32> {
    let field = field?;
    if field.is_empty() || !field.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    field.parse().ok()
}

/// The entries of a passwd or group file: a name that is not empty, the
/// password field skipped, and the fields after it.
fn entries(text: &str) -> impl Iterator<Item = (String, std::str::Split<'_, char>)> {
    text.lines()
        .filter(|line| is_entry(line))
        .filter_map(|line| {
            let mut fields = line.trim_end_matches('\r').split(':');
            let name = fields.next().filter(|name| !name.is_empty())?.to_string();
            let _password = fields.next()?;
            Some((name, fields))
        })
}

/// Parses passwd lines (`name:password:uid:gid:gecos:home:shell`); lines
/// without a name or with a non-numeric uid or gid are skipped, as glibc
/// skips them. Missing trailing fields read as empty.
pub fn parse_passwd(text: &str) -> Vec<User> {
    entries(text)
        .filter_map(|(name, mut fields)| {
            let uid = id_field(fields.next())?;
            let gid = id_field(fields.next())?;
            let _gecos = fields.next();
            let home = fields.next().unwrap_or("").to_string();
            let shell = fields.next().unwrap_or("").to_string();
            Some(User {
                name,
                uid,
                gid,
                home,
                shell,
            })
        })
        .collect()
}

/// Parses group lines (`name:password:gid:member,member`).
pub fn parse_group(text: &str) -> Vec<Group> {
    entries(text)
        .filter_map(|(name, mut fields)| {
            let gid = id_field(fields.next())?;
            let members = fields
                .next()
                .unwrap_or("")
                .split(',')
                .map(str::trim)
                .filter(|member| !member.is_empty())
                .map(str::to_string)
                .collect();
            Some(Group { name, gid, members })
        })
        .collect()
}

/// The users and groups of one root.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Accounts {
    pub users: Vec<User>,
    pub groups: Vec<Group>,
}

impl Accounts {
    /// Reads `ROOT/etc/passwd` and `ROOT/etc/group`; a missing or unreadable
    /// file is an empty database, as it is for getpwnam.
    pub fn load(root: &Path) -> Accounts {
        let read = |name: &str| std::fs::read(root.join(name)).unwrap_or_default();
        Accounts {
            users: parse_passwd(&String::from_utf8_lossy(&read("etc/passwd"))),
            groups: parse_group(&String::from_utf8_lossy(&read("etc/group"))),
        }
    }

    pub fn user_by_name(&self, name: &str) -> Option<&User> {
        self.users.iter().find(|user| user.name == name)
    }

    pub fn user_by_uid(&self, uid: u32) -> Option<&User> {
        self.users.iter().find(|user| user.uid == uid)
    }

    pub fn group_by_name(&self, name: &str) -> Option<&Group> {
        self.groups.iter().find(|group| group.name == name)
    }

    pub fn group_by_gid(&self, gid: u32) -> Option<&Group> {
        self.groups.iter().find(|group| group.gid == gid)
    }

    /// The groups `initgroups(user, gid)` would give: `gid` first, then
    /// every group listing `user` as a member, in file order, without
    /// repeats.
    pub fn group_list(&self, user: &str, gid: u32) -> Vec<u32> {
        let mut list = vec![gid];
        for group in &self.groups {
            if group.members.iter().any(|member| member == user) && !list.contains(&group.gid) {
                list.push(group.gid);
            }
        }
        list
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "\
# a comment
root:x:0:0:root:/root:/bin/bash

alice:x:1000:1000:Alice,,,:/home/alice:/bin/sh
+nisuser::::::
broken:x:notanumber:1::/:
short:x:7:7
nofields
:x:5:5::/:/bin/sh
crlf:x:8:8::/home/crlf:/bin/dash\r
";

    const GROUP: &str = "\
root:x:0:
users:x:100:alice, bob
wheel:x:10:bob
badgid:x:-1:alice
alice:x:1000:
again:x:100:alice
";

    #[test]
    fn passwd_keeps_well_formed_entries_only() {
        let users = parse_passwd(PASSWD);
        let names: Vec<&str> = users.iter().map(|u| u.name.as_str()).collect();
        assert_eq!(names, ["root", "alice", "short", "crlf"]);
        assert_eq!(users[1].uid, 1000);
        assert_eq!(users[1].home, "/home/alice");
        assert_eq!(users[1].shell, "/bin/sh");
        assert_eq!(users[2].shell, "", "missing trailing fields read as empty");
        assert_eq!(users[3].shell, "/bin/dash");
    }

    #[test]
    fn group_members_are_trimmed_and_bad_gids_skipped() {
        let groups = parse_group(GROUP);
        let names: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["root", "users", "wheel", "alice", "again"]);
        assert_eq!(groups[1].members, ["alice", "bob"]);
        assert!(groups[0].members.is_empty());
    }

    #[test]
    fn group_list_is_primary_first_without_repeats() {
        let accounts = Accounts {
            users: parse_passwd(PASSWD),
            groups: parse_group(GROUP),
        };
        assert_eq!(accounts.group_list("alice", 1000), [1000, 100]);
        assert_eq!(accounts.group_list("bob", 100), [100, 10]);
        assert_eq!(accounts.group_list("nobody", 65534), [65534]);
    }

    #[test]
    fn lookups() {
        let accounts = Accounts {
            users: parse_passwd(PASSWD),
            groups: parse_group(GROUP),
        };
        assert_eq!(
            accounts.user_by_uid(0).map(|u| u.name.as_str()),
            Some("root")
        );
        assert_eq!(accounts.user_by_name("alice").map(|u| u.gid), Some(1000));
        assert_eq!(accounts.group_by_name("wheel").map(|g| g.gid), Some(10));
        assert_eq!(
            accounts.group_by_gid(100).map(|g| g.name.as_str()),
            Some("users")
        );
        assert!(accounts.user_by_name("nisuser").is_none());
    }

    #[test]
    fn missing_root_is_an_empty_database() {
        let accounts = Accounts::load(Path::new("/nonexistent/root"));
        assert_eq!(accounts, Accounts::default());
    }
}
