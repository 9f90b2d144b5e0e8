//! Logs go to the NetConf's `logFile` (at `logLevel`) or to stderr: stdout is the protocol.

use std::fs::OpenOptions;
use std::sync::Mutex;

use tracing_subscriber::EnvFilter;

/// Sets up logging from the raw NetConf; tolerant of a broken config (that error is reported
/// through the protocol, and still logged to stderr).
pub fn init(stdin: &[u8]) {
    let v: serde_json::Value = serde_json::from_slice(stdin).unwrap_or_default();
    let level = match v
        .get("logLevel")
        .and_then(|l| l.as_str())
        .unwrap_or("warning")
    {
        "panic" | "error" => "error",
        "info" => "info",
        "debug" => "debug",
        "verbose" => "trace",
        _ => "warn",
    };
    let filter = EnvFilter::try_from_env("USERSPACE_LOG").unwrap_or_else(|_| EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false);
    let file = v
        .get("logFile")
        .and_then(|f| f.as_str())
        .filter(|f| !f.is_empty())
        .and_then(|f| OpenOptions::new().create(true).append(true).open(f).ok());
    let _ = match file {
        Some(f) => builder.with_writer(Mutex::new(f)).try_init(),
        None => builder.with_writer(std::io::stderr).try_init(),
    };
}
