//! The result table (markdown) and the machine it was measured on.

use std::fmt::Write;

/// One line of the table.
pub struct Row {
    pub measure: String,
    pub dingo: String,
    pub baseline: String,
    pub ratio: Option<f64>,
    pub goal: String,
    pub met: Option<bool>,
}

impl Row {
    /// A figure of dingo beside its baseline; the goal is met when the ratio is at least `min`.
    pub fn at_least(
        measure: impl Into<String>,
        dingo: f64,
        unit: &str,
        baseline: (f64, &str),
        min: Option<f64>,
    ) -> Row {
        let ratio = dingo / baseline.0;
        Row {
            measure: measure.into(),
            dingo: format!("{} {unit}", number(dingo)),
            baseline: format!("{} {unit} ({})", number(baseline.0), baseline.1),
            ratio: Some(ratio),
            goal: min.map_or_else(|| "—".to_owned(), |m| format!("ratio ≥ {m}")),
            met: min.map(|m| ratio >= m),
        }
    }

    /// A figure with an absolute ceiling.
    pub fn at_most(measure: impl Into<String>, dingo: f64, unit: &str, baseline: Option<(f64, &str)>, max: f64) -> Row {
        Row {
            measure: measure.into(),
            dingo: format!("{} {unit}", number(dingo)),
            baseline: baseline.map_or_else(|| "—".to_owned(), |(b, what)| format!("{} {unit} ({what})", number(b))),
            ratio: baseline.map(|(b, _)| dingo / b),
            goal: format!("≤ {} {unit}", number(max)),
            met: Some(dingo <= max),
        }
    }

    /// A row that could not be measured.
    pub fn failed(measure: impl Into<String>, why: &str) -> Row {
        // One table cell: no line breaks, no column separators.
        let why = why.split_whitespace().collect::<Vec<_>>().join(" ").replace('|', "/");
        Row {
            measure: measure.into(),
            dingo: format!("failed: {why}"),
            baseline: "—".into(),
            ratio: None,
            goal: "—".into(),
            met: None,
        }
    }

    /// A plain figure: `dingo` as text, with a goal checked by the caller.
    pub fn plain(measure: impl Into<String>, dingo: String, baseline: &str, goal: &str, met: Option<bool>) -> Row {
        Row {
            measure: measure.into(),
            dingo,
            baseline: baseline.into(),
            ratio: None,
            goal: goal.into(),
            met,
        }
    }
}

/// Three significant figures for small values, whole numbers for large ones.
pub fn number(x: f64) -> String {
    if !x.is_finite() {
        "n/a".into()
    } else if x.abs() >= 100.0 {
        format!("{x:.0}")
    } else if x.abs() >= 10.0 {
        format!("{x:.1}")
    } else if x.abs() >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

pub fn table(rows: &[Row]) -> String {
    let mut out =
        String::from("| measure | dingo | baseline (same run) | ratio | goal | met? |\n|---|---|---|---|---|---|\n");
    for r in rows {
        let ratio = r.ratio.map_or_else(|| "—".to_owned(), |x| format!("{x:.2}"));
        let met = match r.met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "—",
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            r.measure, r.dingo, r.baseline, ratio, r.goal, met
        );
    }
    out
}

/// nproc, the CPU model, the date and the load average: the machine the figures belong to.
pub fn machine() -> String {
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown", |(_, m)| m.trim())
        .to_owned();
    let date = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .unwrap_or_default();
    format!(
        "{} · nproc {nproc} · {model} · load average {}",
        date.trim(),
        load_average()
    )
}

/// The 1-minute load average from `/proc/loadavg`.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}
