//! `dingo audit`: recent audit events, filtered, as a table or as JSON lines.

use super::format_utc;
use crate::store::{AuditEvent, AuditFilter};

/// One line per event, newest first, with a header.
pub fn table(events: &[AuditEvent]) -> String {
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
            e.detail.as_deref().unwrap_or(""),
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
