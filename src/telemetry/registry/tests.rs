use super::*;

#[test]
fn a_counter_renders_help_type_and_one_line_per_label_set_in_order() {
    let counter = Counter::new("jobs_total", "Jobs done.", ["kind", "result"]);
    counter.inc(["b", "ok"]);
    counter.inc(["a", "ok"]);
    counter.inc(["a", "ok"]);
    assert_eq!(
        render(&[&counter]),
        "# HELP jobs_total Jobs done.\n\
         # TYPE jobs_total counter\n\
         jobs_total{kind=\"a\",result=\"ok\"} 2\n\
         jobs_total{kind=\"b\",result=\"ok\"} 1\n"
    );
    assert_eq!(counter.get(["a", "ok"]), 2);
    assert_eq!(counter.get(["c", "ok"]), 0);
}

#[test]
fn a_family_without_observations_still_declares_itself() {
    let counter = Counter::new("idle_total", "Never incremented.", ["x"]);
    assert_eq!(
        render(&[&counter]),
        "# HELP idle_total Never incremented.\n# TYPE idle_total counter\n"
    );
}

#[test]
fn label_values_escape_backslash_quote_and_newline() {
    let counter = Counter::new("odd_total", "Odd values.", ["v"]);
    counter.inc(["a\\b\"c\nd"]);
    let text = render(&[&counter]);
    assert!(text.contains("odd_total{v=\"a\\\\b\\\"c\\nd\"} 1\n"), "{text}");
}

#[test]
fn help_text_escapes_backslash_and_newline() {
    let gauge = Gauge::new("g", "line one\nback\\slash");
    assert!(
        render(&[&gauge]).starts_with("# HELP g line one\\nback\\\\slash\n# TYPE g gauge\n"),
        "{}",
        render(&[&gauge])
    );
}

#[test]
fn a_gauge_without_labels_is_one_bare_line() {
    let gauge = Gauge::new("sessions", "Open sessions.");
    gauge.set(7);
    gauge.set(5);
    assert!(render(&[&gauge]).ends_with("\nsessions 5\n"));
}

#[test]
fn a_histogram_has_cumulative_buckets_ending_in_inf_then_sum_and_count() {
    let histogram = Histogram::new("took_seconds", "Time taken.", ["op"], &[0.125, 1.0]);
    histogram.observe(["get"], 0.0625);
    histogram.observe(["get"], 0.125);
    histogram.observe(["get"], 0.5);
    histogram.observe(["get"], 32.0);
    assert_eq!(
        render(&[&histogram]),
        "# HELP took_seconds Time taken.\n\
         # TYPE took_seconds histogram\n\
         took_seconds_bucket{op=\"get\",le=\"0.125\"} 2\n\
         took_seconds_bucket{op=\"get\",le=\"1\"} 3\n\
         took_seconds_bucket{op=\"get\",le=\"+Inf\"} 4\n\
         took_seconds_sum{op=\"get\"} 32.6875\n\
         took_seconds_count{op=\"get\"} 4\n"
    );
}

#[test]
fn families_render_in_the_order_given() {
    let a = Gauge::new("a", "A.");
    let b = Gauge::new("b", "B.");
    let text = render(&[&b, &a]);
    assert!(text.find("# HELP b").unwrap() < text.find("# HELP a").unwrap());
}
