//! The log output: readable lines or one JSON object per line, on standard error, filtered by
//! `RUST_LOG` or else `log.filter`. Inside a request every line carries its `request_id` span.

use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, LogSettings};

/// Installs the process-wide subscriber. `rust_log` (the `RUST_LOG` variable), when set and
/// valid, replaces `settings.filter`.
pub fn init(settings: &LogSettings, rust_log: Option<&str>) {
    let builder = tracing_subscriber::fmt()
        .with_env_filter(choose_filter(rust_log, &settings.filter))
        .with_writer(std::io::stderr);
    let installed = match settings.format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(true)
            .try_init(),
    };
    if let Err(e) = installed {
        eprintln!("warning: logging was already set up: {e}");
    }
}

/// `rust_log` when it parses, else `configured`, else the default.
fn choose_filter(rust_log: Option<&str>, configured: &str) -> EnvFilter {
    if let Some(directives) = rust_log.filter(|d| !d.trim().is_empty()) {
        match parse_filter(directives) {
            Ok(filter) => return filter,
            Err(e) => eprintln!("warning: ignoring RUST_LOG ({e}); using {configured:?}"),
        }
    }
    parse_filter(configured).unwrap_or_else(|_| EnvFilter::new(crate::config::DEFAULT_LOG_FILTER))
}

/// Log directives, read by `tracing-subscriber`, whose parser can panic on some non-ASCII text
/// (it slices inside a character): directives are ASCII (targets, levels, span and field
/// names), so anything else is refused before it gets there.
pub fn parse_filter(directives: &str) -> Result<EnvFilter, String> {
    if !directives.is_ascii() {
        return Err("log directives are plain ASCII (targets and levels, e.g. info,dingo=debug)".into());
    }
    EnvFilter::try_new(directives).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::{choose_filter, parse_filter};

    #[test]
    fn a_filter_that_is_not_ascii_is_refused_before_the_parser_sees_it() {
        // This text once made tracing-subscriber's parser panic (it sliced inside a character).
        let text = "\tI?\u{fffd}&\u{fffd}/Z\u{d2816}0{\u{202e}PZ/%\u{9e7e7}=5&`\u{a5}\u{1031f3}";
        assert!(parse_filter(text).is_err());
        assert!(parse_filter("info,dingo=debug").is_ok());
    }

    #[test]
    fn rust_log_replaces_the_configured_filter_when_it_is_valid() {
        assert_eq!(choose_filter(Some("debug"), "info").to_string(), "debug");
        assert_eq!(choose_filter(Some("[not a filter"), "warn").to_string(), "warn");
        assert_eq!(choose_filter(Some("  "), "warn").to_string(), "warn");
        assert_eq!(choose_filter(None, "info,sqlx=warn").to_string(), "sqlx=warn,info");
    }
}
