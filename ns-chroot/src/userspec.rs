//! `--userspec=USER:GROUP` and `--groups=G1,G2`, resolved against an
//! account database the way coreutils resolves them (gnulib's
//! `parse_user_spec` and chroot's `parse_additional_groups`).

use std::fmt;

use ns_sys::accounts::Accounts;

use crate::quote::quote;

/// Why a userspec names nobody, in coreutils' words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserspecError {
    /// `1234:` names no user whose login group could be looked up.
    NoLoginGroup,
    InvalidUser,
    InvalidGroup,
}

impl fmt::Display for UserspecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UserspecError::NoLoginGroup => "cannot get the login group of a numeric UID",
            UserspecError::InvalidUser => "invalid user",
            UserspecError::InvalidGroup => "invalid group",
        })
    }
}

impl std::error::Error for UserspecError {}

/// What is wrong with a `--groups` list: an item, or the list as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupListError {
    InvalidGroup(String),
    /// A list of nothing but commas.
    InvalidList(String),
}

impl fmt::Display for GroupListError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GroupListError::InvalidGroup(item) => {
                write!(f, "invalid group {}", quote(item.as_bytes()))
            }
            GroupListError::InvalidList(list) => {
                write!(f, "invalid group list {}", quote(list.as_bytes()))
            }
        }
    }
}

impl std::error::Error for GroupListError {}

/// What a userspec names; either part may be absent (`:wheel`, `alice`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ids {
    pub uid: Option<u32>,
    pub gid: Option<u32>,
}

/// A resolved userspec, and whether it used the obsolete `USER.GROUP`
/// form, which still works but earns a warning.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Resolved {
    pub ids: Ids,
    pub dot_warning: bool,
}

/// A number as `strtoul` reads an id: optional leading blanks and `+`,
/// digits only, and never `(uid_t) -1`, which means "unchanged" to the
/// kernel.
pub fn parse_id(text: &str) -> Option<u32> {
    match ns_sys::number::decimal(text)? {
        (false, digits) => digits.parse::<u32>().ok().filter(|id| *id != u32::MAX),
        (true, _) => None,
    }
}

/// Resolves a userspec. chroot has already dropped one trailing `:`
/// (`alice:` means the same as `alice`).
pub fn resolve_userspec(spec: &str, accounts: &Accounts) -> Result<Resolved, UserspecError> {
    let colon = if spec.is_empty() {
        None
    } else {
        spec.find(':')
    };
    let first = resolve_with_separator(spec, colon, accounts);
    match first {
        Err(error) if colon.is_none() => {
            // No colon but a dot, and the whole spec is no user name: the
            // old USER.GROUP form.
            if let Some(dot) = spec.find('.') {
                if let Ok(ids) = resolve_with_separator(spec, Some(dot), accounts) {
                    return Ok(Resolved {
                        ids,
                        dot_warning: true,
                    });
                }
            }
            Err(error)
        }
        other => other.map(|ids| Resolved {
            ids,
            dot_warning: false,
        }),
    }
}

fn resolve_with_separator(
    spec: &str,
    separator: Option<usize>,
    accounts: &Accounts,
) -> Result<Ids, UserspecError> {
    let (user, group) = match separator {
        None => (spec, None),
        Some(at) => (&spec[..at], Some(&spec[at + 1..]).filter(|g| !g.is_empty())),
    };
    let mut ids = Ids::default();
    if !user.is_empty() {
        // A leading `+` forces a number: no name lookup.
        let found = if user.starts_with('+') {
            None
        } else {
            accounts.user_by_name(user)
        };
        match found {
            Some(entry) => {
                ids.uid = Some(entry.uid);
                if separator.is_some() && group.is_none() {
                    ids.gid = Some(entry.gid); // USER: means USER's login group
                }
            }
            None if separator.is_some() && group.is_none() => {
                return Err(UserspecError::NoLoginGroup);
            }
            None => ids.uid = Some(parse_id(user).ok_or(UserspecError::InvalidUser)?),
        }
    }
    if let Some(group) = group {
        let found = if group.starts_with('+') {
            None
        } else {
            accounts.group_by_name(group)
        };
        ids.gid = Some(match found {
            Some(entry) => entry.gid,
            None => parse_id(group).ok_or(UserspecError::InvalidGroup)?,
        });
    }
    Ok(ids)
}

/// Resolves `--groups`: comma-separated names or numbers (empty items are
/// skipped). A number is a number unless a group is named so; a `+`
/// forces a number. Every invalid item is reported, as coreutils does.
pub fn resolve_group_list(
    list: &str,
    accounts: &Accounts,
) -> Result<Vec<u32>, Vec<GroupListError>> {
    let mut gids = Vec::new();
    let mut errors = Vec::new();
    for item in list.split(',').filter(|item| !item.is_empty()) {
        let by_name = || accounts.group_by_name(item).map(|group| group.gid);
        let gid = match parse_id(item) {
            Some(number) if item.trim_start().starts_with('+') => Some(number),
            Some(number) => Some(by_name().unwrap_or(number)),
            None => by_name(),
        };
        match gid {
            Some(gid) => gids.push(gid),
            None => errors.push(GroupListError::InvalidGroup(item.to_string())),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    if gids.is_empty() {
        return Err(vec![GroupListError::InvalidList(list.to_string())]);
    }
    Ok(gids)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ns_sys::accounts::{parse_group, parse_passwd};

    fn accounts() -> Accounts {
        Accounts {
            users: parse_passwd(
                "root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/:/bin/sh\n\
                 a.b:x:1002:100::/:/bin/sh\n42:x:4242:4242::/:/bin/sh\n",
            ),
            groups: parse_group("root:x:0:\nusers:x:100:alice\nwheel:x:10:\n7:x:77:\n"),
        }
    }

    fn ids(spec: &str) -> Result<Ids, UserspecError> {
        resolve_userspec(spec, &accounts()).map(|r| r.ids)
    }

    #[test]
    fn user_and_group_by_name_or_number() {
        assert_eq!(
            ids("alice:users"),
            Ok(Ids {
                uid: Some(1000),
                gid: Some(100)
            })
        );
        assert_eq!(
            ids("1234:5678"),
            Ok(Ids {
                uid: Some(1234),
                gid: Some(5678)
            })
        );
        assert_eq!(
            ids("alice"),
            Ok(Ids {
                uid: Some(1000),
                gid: None
            })
        );
        assert_eq!(
            ids(":wheel"),
            Ok(Ids {
                uid: None,
                gid: Some(10)
            })
        );
        assert_eq!(ids(""), Ok(Ids::default()));
    }

    #[test]
    fn names_win_over_numbers_unless_plus() {
        assert_eq!(
            ids("42"),
            Ok(Ids {
                uid: Some(4242),
                gid: None
            })
        );
        assert_eq!(
            ids("+42"),
            Ok(Ids {
                uid: Some(42),
                gid: None
            })
        );
        assert_eq!(
            ids(":7"),
            Ok(Ids {
                uid: None,
                gid: Some(77)
            })
        );
        assert_eq!(
            ids(":+7"),
            Ok(Ids {
                uid: None,
                gid: Some(7)
            })
        );
    }

    #[test]
    fn user_colon_means_login_group() {
        assert_eq!(
            ids("alice:"),
            Ok(Ids {
                uid: Some(1000),
                gid: Some(1000)
            })
        );
        assert_eq!(ids("1234:"), Err(UserspecError::NoLoginGroup));
    }

    #[test]
    fn invalid_users_and_groups() {
        assert_eq!(ids("nosuch"), Err(UserspecError::InvalidUser));
        assert_eq!(ids("alice:nosuch"), Err(UserspecError::InvalidGroup));
        assert_eq!(ids("99999999999"), Err(UserspecError::InvalidUser));
        assert_eq!(
            ids("4294967295"),
            Err(UserspecError::InvalidUser),
            "(uid_t)-1 is refused"
        );
        assert_eq!(ids("-1"), Err(UserspecError::InvalidUser));
        assert_eq!(ids("1x"), Err(UserspecError::InvalidUser));
    }

    #[test]
    fn dot_separator_only_when_the_whole_spec_is_no_user() {
        let spec = resolve_userspec("alice.users", &accounts()).unwrap();
        assert_eq!(
            spec.ids,
            Ids {
                uid: Some(1000),
                gid: Some(100)
            }
        );
        assert!(spec.dot_warning);
        let spec = resolve_userspec("a.b", &accounts()).unwrap();
        assert_eq!(
            spec.ids,
            Ids {
                uid: Some(1002),
                gid: None
            }
        );
        assert!(!spec.dot_warning);
        assert_eq!(ids("alice.nosuch"), Err(UserspecError::InvalidUser));
    }

    #[test]
    fn group_lists() {
        let accounts = accounts();
        assert_eq!(resolve_group_list("users,10", &accounts), Ok(vec![100, 10]));
        assert_eq!(
            resolve_group_list("users,,wheel,", &accounts),
            Ok(vec![100, 10])
        );
        assert_eq!(resolve_group_list("7,+7", &accounts), Ok(vec![77, 7]));
        assert_eq!(
            resolve_group_list("4294967295", &accounts)
                .unwrap_err()
                .len(),
            1
        );
        let errors = resolve_group_list("nosuch,users,other", &accounts).unwrap_err();
        assert_eq!(errors.len(), 2);
        assert_eq!(
            errors[0].to_string(),
            format!("invalid group {}", quote(b"nosuch"))
        );
        assert_eq!(errors[1], GroupListError::InvalidGroup("other".into()));
        let errors = resolve_group_list(",", &accounts).unwrap_err();
        assert_eq!(errors, [GroupListError::InvalidList(",".into())]);
        assert_eq!(
            errors[0].to_string(),
            format!("invalid group list {}", quote(b","))
        );
    }
}
