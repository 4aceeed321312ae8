//! What the command line prints: tables for a terminal, JSON lines for machines.

use super::{SessionView, format_utc};
use crate::store::{AuditEvent, AuditFilter, PersonSummary};

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

pub fn sessions_table(sessions: &[SessionView]) -> String {
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

/// One line per event, newest first, with a header.
pub fn audit_table(events: &[AuditEvent]) -> String {
    let mut out = String::from(
        "time                  kind        outcome              user          client        route            detail\n",
    );
    for e in events {
        out.push_str(&format!(
            "{:<21} {:<11} {:<20} {:<13} {:<13} {:<16} {}\n",
            format_utc(e.at),
            e.kind,
            e.outcome,
            e.userid.as_deref().unwrap_or("-"),
            e.client_id.as_deref().unwrap_or("-"),
            e.route.as_deref().unwrap_or("-"),
            match (&e.detail, &e.actor) {
                (Some(detail), Some(actor)) => format!("{detail} (by {actor})"),
                (None, Some(actor)) => format!("by {actor}"),
                (detail, None) => detail.clone().unwrap_or_default(),
            },
        ));
    }
    if events.is_empty() {
        out.push_str("(no matching events)\n");
    }
    out
}

/// One JSON object per line, for machines.
pub fn json_lines(events: &[AuditEvent]) -> String {
    events
        .iter()
        .filter_map(|e| serde_json::to_string(e).ok())
        .map(|line| line + "\n")
        .collect()
}

/// A filter with a sane default size.
pub fn filter(
    userid: Option<String>,
    client_id: Option<String>,
    outcome: Option<String>,
    kind: Option<String>,
    since: Option<i64>,
    until: Option<i64>,
    limit: i64,
) -> AuditFilter {
    AuditFilter {
        userid,
        client_id,
        outcome,
        kind,
        since,
        until,
        limit: limit.clamp(1, 10_000),
    }
}
