//! The OVN engine (being written).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{AttachRequest, Engine, Evidence, Held, Ownership, Record};
use crate::cni::{CniError, ErrorCode};
use crate::config::Config;
use crate::identity::AttachmentId;

/// One attachment's logical port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OvnRecord {
    /// The attachment's key.
    pub owner: String,
    /// The network.
    pub network: String,
    /// The socket.
    pub socket: PathBuf,
    /// The logical switch port's name.
    pub port: String,
}

impl Record for OvnRecord {
    fn owner(&self) -> &str {
        &self.owner
    }
    fn network(&self) -> &str {
        &self.network
    }
    fn socket(&self) -> &Path {
        &self.socket
    }
    fn name(&self) -> String {
        self.port.clone()
    }
}

/// A session with the northbound database and the local OVS.
pub struct OvnEngine;

fn not_yet() -> CniError {
    CniError::new(
        ErrorCode::InvalidConfig,
        "host.engine ovn: this build has no OVN engine yet",
    )
}

impl Engine for OvnEngine {
    type Record = OvnRecord;
    fn connect(_config: &Config) -> Result<Self, CniError> {
        Err(not_yet())
    }
    fn plan(_config: &Config, _req: &AttachRequest) -> Result<OvnRecord, CniError> {
        Err(not_yet())
    }
    fn attach(&mut self, _p: &OvnRecord, _held: &Held<'_>) -> Result<OvnRecord, CniError> {
        Err(not_yet())
    }
    fn detach(&mut self, _r: &OvnRecord, _held: &Held<'_>) -> Result<(), CniError> {
        Err(not_yet())
    }
    fn check(&mut self, _r: &OvnRecord) -> Result<Ownership, CniError> {
        Err(not_yet())
    }
    fn untracked(
        &mut self,
        _network: &str,
        _evidence: &dyn Evidence,
    ) -> Result<Vec<(AttachmentId, OvnRecord)>, CniError> {
        Err(not_yet())
    }
    fn status(&mut self) -> Result<(), CniError> {
        Err(not_yet())
    }
}
