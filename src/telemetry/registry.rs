//! A small Prometheus registry: counter, gauge and histogram families with fixed label names,
//! rendered in the text exposition format 0.0.4. Label values must come from bounded sets.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// The `Content-Type` of [`render`]'s output.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// One metric family that can write itself in the text format.
pub trait Family: Send + Sync {
    fn render(&self, out: &mut String);
}

/// Every family, in the order given.
pub fn render(families: &[&dyn Family]) -> String {
    let mut out = String::with_capacity(4096);
    for family in families {
        family.render(&mut out);
    }
    out
}

/// Name, help text and label names of a family.
#[derive(Debug)]
struct Desc<const N: usize> {
    name: &'static str,
    help: &'static str,
    labels: [&'static str; N],
}

impl<const N: usize> Desc<N> {
    fn header(&self, out: &mut String, kind: &str) {
        let _ = writeln!(out, "# HELP {} {}", self.name, escape_help(self.help));
        let _ = writeln!(out, "# TYPE {} {kind}", self.name);
    }

    /// `{a="x",b="y"}` with `extra` (such as `le`) appended; empty when there are no labels.
    fn label_set(&self, values: &[String; N], extra: Option<(&str, &str)>) -> String {
        let pairs: Vec<String> = self
            .labels
            .iter()
            .zip(values.iter().map(String::as_str))
            .chain(extra.iter().map(|(k, v)| (k, *v)))
            .map(|(k, v)| format!("{k}=\"{}\"", escape_label_value(v)))
            .collect();
        if pairs.is_empty() {
            String::new()
        } else {
            format!("{{{}}}", pairs.join(","))
        }
    }
}

fn owned<const N: usize>(values: [&str; N]) -> [String; N] {
    values.map(str::to_owned)
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A monotonically increasing count per label set.
#[derive(Debug)]
pub struct Counter<const N: usize> {
    desc: Desc<N>,
    series: Mutex<BTreeMap<[String; N], u64>>,
}

impl<const N: usize> Counter<N> {
    pub fn new(name: &'static str, help: &'static str, labels: [&'static str; N]) -> Self {
        Self {
            desc: Desc { name, help, labels },
            series: Mutex::default(),
        }
    }

    pub fn inc(&self, values: [&str; N]) {
        *lock(&self.series).entry(owned(values)).or_default() += 1;
    }

    /// The current count of one label set (0 when never incremented).
    pub fn get(&self, values: [&str; N]) -> u64 {
        lock(&self.series).get(&owned(values)).copied().unwrap_or(0)
    }
}

impl<const N: usize> Family for Counter<N> {
    fn render(&self, out: &mut String) {
        self.desc.header(out, "counter");
        for (values, count) in lock(&self.series).iter() {
            let labels = self.desc.label_set(values, None);
            let _ = writeln!(out, "{}{labels} {count}", self.desc.name);
        }
    }
}

/// A value that goes up and down, without labels.
#[derive(Debug)]
pub struct Gauge {
    desc: Desc<0>,
    value: AtomicI64,
}

impl Gauge {
    pub fn new(name: &'static str, help: &'static str) -> Self {
        Self {
            desc: Desc { name, help, labels: [] },
            value: AtomicI64::new(0),
        }
    }

    pub fn set(&self, value: i64) {
        self.value.store(value, Ordering::Relaxed);
    }

    pub fn add(&self, delta: i64) {
        self.value.fetch_add(delta, Ordering::Relaxed);
    }

    pub fn get(&self) -> i64 {
        self.value.load(Ordering::Relaxed)
    }
}

impl Family for Gauge {
    fn render(&self, out: &mut String) {
        self.desc.header(out, "gauge");
        let _ = writeln!(out, "{} {}", self.desc.name, self.get());
    }
}

/// Observations counted into buckets with upper bounds, plus their count and sum.
#[derive(Debug)]
pub struct Histogram<const N: usize> {
    desc: Desc<N>,
    bounds: &'static [f64],
    series: Mutex<BTreeMap<[String; N], Buckets>>,
}

#[derive(Debug)]
struct Buckets {
    /// Observations per bucket (not cumulative); one more than the bounds, for `+Inf`.
    counts: Vec<u64>,
    sum: f64,
}

/// Request latencies from 5 ms to 10 s (the Prometheus client libraries' defaults).
pub const LATENCY_BUCKETS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

impl<const N: usize> Histogram<N> {
    /// `bounds` must be increasing; `+Inf` is implied.
    pub fn new(name: &'static str, help: &'static str, labels: [&'static str; N], bounds: &'static [f64]) -> Self {
        Self {
            desc: Desc { name, help, labels },
            bounds,
            series: Mutex::default(),
        }
    }

    pub fn observe(&self, values: [&str; N], value: f64) {
        let bucket = self
            .bounds
            .iter()
            .position(|bound| value <= *bound)
            .unwrap_or(self.bounds.len());
        let mut series = lock(&self.series);
        let buckets = series.entry(owned(values)).or_insert_with(|| Buckets {
            counts: vec![0; self.bounds.len() + 1],
            sum: 0.0,
        });
        if let Some(count) = buckets.counts.get_mut(bucket) {
            *count += 1;
        }
        buckets.sum += value;
    }
}

impl<const N: usize> Family for Histogram<N> {
    fn render(&self, out: &mut String) {
        self.desc.header(out, "histogram");
        let name = self.desc.name;
        for (values, buckets) in lock(&self.series).iter() {
            let mut cumulative = 0;
            let bounds = self.bounds.iter().map(|b| b.to_string());
            for (le, count) in bounds.chain(std::iter::once("+Inf".to_owned())).zip(&buckets.counts) {
                cumulative += count;
                let labels = self.desc.label_set(values, Some(("le", &le)));
                let _ = writeln!(out, "{name}_bucket{labels} {cumulative}");
            }
            let labels = self.desc.label_set(values, None);
            let _ = writeln!(out, "{name}_sum{labels} {}", buckets.sum);
            let _ = writeln!(out, "{name}_count{labels} {cumulative}");
        }
    }
}

/// Label values escape backslash, double quote and line feed.
fn escape_label_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// Help text escapes backslash and line feed.
fn escape_help(help: &str) -> String {
    help.replace('\\', "\\\\").replace('\n', "\\n")
}

#[cfg(test)]
mod tests;
