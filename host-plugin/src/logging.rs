//! Logs go to the NetConf's `logFile` (at `logLevel`) or to stderr: stdout is the protocol.

use std::fs::OpenOptions;
use std::sync::Mutex;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::LevelFilter;
use userspace_cni_sdk::wire::LogLevel;

use crate::config::Stdin;

/// The Go plugin's default.
const DEFAULT_LEVEL: LogLevel = LogLevel::Warning;

/// The tracing level of a NetConf `logLevel`: the one place the two scales meet.
pub fn level_filter(level: LogLevel) -> LevelFilter {
    match level {
        LogLevel::Panic | LogLevel::Error => LevelFilter::ERROR,
        LogLevel::Warning => LevelFilter::WARN,
        LogLevel::Info => LevelFilter::INFO,
        LogLevel::Debug => LevelFilter::DEBUG,
        LogLevel::Verbose => LevelFilter::TRACE,
    }
}

/// Sets up logging from the decoded stdin; tolerant of a broken config (that error, an unknown
/// `logLevel` included, is reported through the protocol when the NetConf is checked, and
/// logging meanwhile uses the default level).
pub fn init(stdin: &Stdin) {
    let level = stdin
        .str_key("logLevel")
        .and_then(|l| l.parse().ok())
        .unwrap_or(DEFAULT_LEVEL);
    let filter = EnvFilter::try_from_env("USERSPACE_LOG")
        .unwrap_or_else(|_| EnvFilter::default().add_directive(level_filter(level).into()));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false);
    let file = stdin
        .str_key("logFile")
        .filter(|f| !f.is_empty())
        .and_then(|f| OpenOptions::new().create(true).append(true).open(f).ok());
    let _ = match file {
        Some(f) => builder.with_writer(Mutex::new(f)).try_init(),
        None => builder.with_writer(std::io::stderr).try_init(),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_go_log_level_has_a_tracing_level() {
        let levels: Vec<_> = LogLevel::ALLOWED
            .iter()
            .map(|l| level_filter(l.parse().unwrap()))
            .collect();
        assert_eq!(
            levels,
            [
                LevelFilter::ERROR,
                LevelFilter::ERROR,
                LevelFilter::WARN,
                LevelFilter::INFO,
                LevelFilter::DEBUG,
                LevelFilter::TRACE
            ]
        );
    }

    #[test]
    fn an_unknown_log_level_is_a_config_error_naming_the_key() {
        let e = userspace_cni_sdk::wire::NetConf::from_slice(
            br#"{"cniVersion":"1.0.0","logLevel":"trace"}"#,
        )
        .unwrap_err();
        assert_eq!(
            e.message,
            "logLevel: the string \"trace\" is not one of panic, error, warning, info, debug, verbose"
        );
    }
}
