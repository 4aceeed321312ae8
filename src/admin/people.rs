//! `dingo users` and `dingo sessions`: tables for a terminal.

use super::format_utc;
use crate::store::{PersonSummary, Session};

pub fn people_table(people: &[PersonSummary]) -> String {
    let mut out = String::from("userid          name          last login            sessions  state\n");
    for p in people {
        let state = match p.disabled_at {
            Some(at) => format!("disabled since {}", format_utc(at)),
            None => "active".into(),
        };
        out.push_str(&format!(
            "{:<15} {:<13} {:<21} {:<9} {state}\n",
            p.userid,
            p.name,
            format_utc(p.last_login_at),
            p.live_sessions
        ));
    }
    if people.is_empty() {
        out.push_str("(nobody has logged in yet)\n");
    }
    out
}

pub fn sessions_table(sessions: &[Session]) -> String {
    let mut out = String::from(
        "sid                                          userid          route             logged in             expires\n",
    );
    for s in sessions {
        out.push_str(&format!(
            "{:<44} {:<15} {:<17} {:<21} {}\n",
            s.sid,
            s.userid,
            s.route,
            format_utc(s.auth_time),
            format_utc(s.expires_at)
        ));
    }
    if sessions.is_empty() {
        out.push_str("(no live sessions)\n");
    }
    out
}
