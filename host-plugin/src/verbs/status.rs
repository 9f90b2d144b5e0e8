//! STATUS: can this plugin serve an ADD now?

use super::Ctx;
use crate::cni::{CniError, ErrorCode};

/// Runs STATUS.
pub fn run(ctx: &Ctx<'_>) -> Result<String, CniError> {
    ctx.switches
        .connect(ctx.config, ctx.config.engine)
        .and_then(|mut e| e.status())
        .map(|()| String::new())
        .map_err(|e| {
            CniError::new(
                ErrorCode::NotAvailable,
                format!("the switch is not reachable: {}", e.msg),
            )
            .with_details(e.details)
        })
}
