//! STATUS: can this plugin serve an ADD now?

use crate::cni::{CniError, ErrorCode};
use crate::config::Config;
use crate::engine::Switch;

/// Runs STATUS.
pub fn run(config: &Config) -> Result<String, CniError> {
    Switch::connect(config).map(|_| String::new()).map_err(|e| {
        CniError::new(
            ErrorCode::NotAvailable,
            format!("the switch is not reachable: {}", e.msg),
        )
        .with_details(e.details)
    })
}
