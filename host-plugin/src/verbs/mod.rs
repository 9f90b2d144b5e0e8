//! One module per CNI verb, each a short sequence of calls into the attachment store, the
//! engines, IPAM and the publishers; [`undo`] is the one place that reverses a journal step,
//! for DEL, GC and a failed ADD alike.

pub mod add;
pub mod check;
pub mod del;
pub mod gc;
pub mod names;
pub mod recover;
pub mod status;
pub mod switches;
pub mod undo;

use crate::attachment::AttachmentId;
use crate::attachment::journal::Store;
use crate::cni::{CniCommand, CniError};
use crate::config::Config;
use crate::engine::Connector;

/// What every verb works with.
pub struct Ctx<'a> {
    /// The invocation.
    pub cmd: &'a CniCommand,
    /// The validated config.
    pub config: &'a Config,
    /// The state store.
    pub store: Store,
    /// How engines are reached.
    pub switches: &'a dyn Connector,
}

impl<'a> Ctx<'a> {
    /// The context of one invocation.
    pub fn new(cmd: &'a CniCommand, config: &'a Config, switches: &'a dyn Connector) -> Self {
        Self {
            cmd,
            config,
            store: Store::new(&config.state_dir),
            switches,
        }
    }

    /// The attachment the runtime named (ADD, DEL, CHECK).
    pub fn id(&self) -> Result<AttachmentId, CniError> {
        AttachmentId::new(&self.cmd.container_id, &self.cmd.ifname)
    }
}
