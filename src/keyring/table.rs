//! `dingo keys list`: the keys as a table, times in UTC.

use super::KeyInfo;

/// `2025-03-01 08:00:00` (UTC) for unix seconds.
pub fn format_time(unix: i64) -> String {
    crate::calendar::format_utc(unix)
        .replacen('T', " ", 1)
        .trim_end_matches('Z')
        .to_owned()
}

/// One line per key, with a header: kid, algorithm, state, and when it was created, signs,
/// stops signing and leaves the JWKS.
pub fn render(keys: &[KeyInfo]) -> String {
    let time = |t: Option<i64>| t.map(format_time).unwrap_or_else(|| "-".into());
    let header = [
        "KID",
        "ALG",
        "STATE",
        "CREATED (UTC)",
        "ACTIVATES (UTC)",
        "RETIRES (UTC)",
        "REMOVED (UTC)",
    ]
    .map(String::from);
    let rows: Vec<[String; 7]> = keys
        .iter()
        .map(|k| {
            [
                k.kid.clone(),
                k.alg.clone(),
                k.state.as_str().to_owned(),
                format_time(k.times.created_at),
                format_time(k.times.activates_at),
                time(k.times.retires_at),
                time(k.times.removed_at),
            ]
        })
        .collect();
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{KeyState, KeyTimes};

    #[test]
    fn times_are_utc_calendar_dates() {
        assert_eq!(format_time(0), "1970-01-01 00:00:00");
        assert_eq!(format_time(951_782_400), "2000-02-29 00:00:00");
        assert_eq!(format_time(1_700_000_000), "2023-11-14 22:13:20");
        assert_eq!(format_time(4_102_444_799), "2099-12-31 23:59:59");
        assert_eq!(format_time(-1), "1969-12-31 23:59:59");
    }

    #[test]
    fn the_table_aligns_its_columns_and_shows_dashes_for_open_times() {
        let keys = [
            KeyInfo {
                kid: "old-kid".into(),
                alg: "RS256".into(),
                state: KeyState::Retiring,
                times: KeyTimes {
                    created_at: 0,
                    activates_at: 0,
                    retires_at: Some(86_400),
                    removed_at: Some(90_000),
                },
            },
            KeyInfo {
                kid: "a-much-longer-kid".into(),
                alg: "EdDSA".into(),
                state: KeyState::Signing,
                times: KeyTimes {
                    created_at: 0,
                    activates_at: 86_400,
                    retires_at: None,
                    removed_at: None,
                },
            },
        ];
        let table = render(&keys);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(
            lines[0].starts_with("KID                ALG    STATE     CREATED (UTC)"),
            "{table}"
        );
        assert!(
            lines[1].starts_with("old-kid            RS256  retiring  1970-01-01 00:00:00"),
            "{table}"
        );
        assert!(
            lines[1].ends_with("1970-01-02 00:00:00  1970-01-02 01:00:00"),
            "{table}"
        );
        let open = format!("1970-01-02 00:00:00  -{}-", " ".repeat(20));
        assert!(lines[2].ends_with(&open), "{table}");
    }
}
