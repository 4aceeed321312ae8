//! Unix seconds and UTC dates, as people read and type them. Times on the command line: `1767225600` (unix seconds), `2026-01-01`, `2026-01-01T08:00:00Z`,
//! or an age such as `90m`, `24h`, `7d` (that long before now).

/// Unix seconds for `text`, relative ages counted back from `now`.
pub fn parse_time(text: &str, now: i64) -> Result<i64, String> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<i64>() {
        return Ok(seconds);
    }
    if let Some((number, unit)) = text.split_at_checked(text.len().saturating_sub(1))
        && let Ok(n) = number.parse::<i64>()
    {
        let scale = match unit {
            "s" => Some(1),
            "m" => Some(60),
            "h" => Some(3600),
            "d" => Some(86_400),
            _ => None,
        };
        if let Some(scale) = scale {
            return Ok(now - n * scale);
        }
    }
    parse_utc(text)
        .ok_or_else(|| format!("not a time: {text:?} (use unix seconds, 2026-01-31, 2026-01-31T08:00:00Z or 24h)"))
}

fn parse_utc(text: &str) -> Option<i64> {
    let text = text.strip_suffix('Z').unwrap_or(text);
    let (date, time) = text.split_once('T').unwrap_or((text, "00:00:00"));
    let mut d = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let mut t = time.split(':').map(|p| p.parse::<i64>().ok());
    let (hh, mm, ss) = (t.next()??, t.next().unwrap_or(Some(0))?, t.next().unwrap_or(Some(0))?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    Some(days_from_civil(y, m, day) * 86_400 + hh * 3600 + mm * 60 + ss)
}

/// `2026-11-21T14:20:05Z`.
pub fn format_utc(unix: i64) -> String {
    let (days, secs) = (unix.div_euclid(86_400), unix.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip_and_ages_count_back_from_now() {
        assert_eq!(format_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(parse_time("2026-11-21T14:20:05Z", 0).unwrap(), 1_795_270_805);
        assert_eq!(format_utc(1_795_270_805), "2026-11-21T14:20:05Z");
        assert_eq!(
            parse_time("2024-02-29", 0).map(format_utc).unwrap(),
            "2024-02-29T00:00:00Z"
        );
        assert_eq!(parse_time("24h", 100_000).unwrap(), 100_000 - 86_400);
        assert_eq!(parse_time("7d", 1_000_000).unwrap(), 1_000_000 - 604_800);
        assert_eq!(parse_time("1700000000", 0).unwrap(), 1_700_000_000);
        assert!(parse_time("yesterday", 0).is_err());
        assert!(parse_time("2026-13-01", 0).is_err());
    }
}
