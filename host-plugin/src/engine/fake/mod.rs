//! A recording fake switch for the verb tests: it keeps ports in memory as OVS would (tagged
//! with their owner), logs every call, and can be told to fail one operation. It is handed to
//! [`crate::run_with`] in place of the real engines.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use userspace_cni_sdk::wire::Engine as EngineKind;

use super::ovs::OvsRecord;
use super::{Connector, Engine, EngineRecord, Ownership};
use crate::attachment::AttachmentId;
use crate::cni::{CniError, ErrorCode};
use crate::config::Config;

/// What the fake switch holds and saw.
#[derive(Debug, Default)]
pub struct FakeState {
    /// Ports by name.
    pub ports: BTreeMap<String, OvsRecord>,
    /// Every call, as `attach <port>`, `detach <port>`, `check <port>`, `untracked`,
    /// `status`, `connect <engine>`.
    pub calls: Vec<String>,
    /// A call (by its log text) that fails with code 11 once.
    pub fail: Option<String>,
    /// When set, connecting fails (the switch is down).
    pub down: bool,
}

/// A shared fake switch; clones see the same state.
#[derive(Debug, Default, Clone)]
pub struct FakeSwitch {
    state: Arc<Mutex<FakeState>>,
}

impl FakeSwitch {
    /// An empty switch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Its state.
    pub fn state(&self) -> MutexGuard<'_, FakeState> {
        match self.state.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    fn call(&self, what: String) -> Result<(), CniError> {
        let mut s = self.state();
        s.calls.push(what.clone());
        if s.fail.as_deref() == Some(what.as_str()) {
            s.fail = None;
            return Err(CniError::new(
                ErrorCode::TryAgainLater,
                format!("fake switch: {what} failed as told"),
            ));
        }
        Ok(())
    }
}

fn record(r: &EngineRecord) -> Result<&OvsRecord, CniError> {
    match r {
        EngineRecord::OvsDpdk(o) => Ok(o),
        other => Err(CniError::new(
            ErrorCode::Internal,
            format!("the fake switch models OVS, not {}", other.kind()),
        )),
    }
}

impl Connector for FakeSwitch {
    fn connect(&self, _config: &Config, kind: EngineKind) -> Result<Box<dyn Engine>, CniError> {
        self.call(format!("connect {kind}"))?;
        if self.state().down {
            return Err(CniError::new(
                ErrorCode::TryAgainLater,
                "fake switch is down",
            ));
        }
        Ok(Box::new(self.clone()))
    }
}

impl Engine for FakeSwitch {
    fn attach(&mut self, planned: &EngineRecord) -> Result<EngineRecord, CniError> {
        let r = record(planned)?;
        self.call(format!("attach {}", r.port))?;
        let mut s = self.state();
        match s.ports.get(&r.port) {
            Some(p) if p.owner != r.owner => Err(CniError::new(
                ErrorCode::Internal,
                format!("port {} exists", r.port),
            )),
            _ => {
                s.ports.insert(r.port.clone(), r.clone());
                Ok(planned.clone())
            }
        }
    }

    fn detach(&mut self, rec: &EngineRecord) -> Result<(), CniError> {
        let r = record(rec)?;
        self.call(format!("detach {}", r.port))?;
        let mut s = self.state();
        if s.ports.get(&r.port).is_some_and(|p| p.owner == r.owner) {
            s.ports.remove(&r.port);
        }
        Ok(())
    }

    fn check(&mut self, rec: &EngineRecord) -> Result<Ownership, CniError> {
        let r = record(rec)?;
        self.call(format!("check {}", r.port))?;
        Ok(match self.state().ports.get(&r.port) {
            None => Ownership::Missing,
            Some(p) if p.owner == r.owner => Ownership::Ours,
            Some(p) => Ownership::NotOurs(p.owner.clone()),
        })
    }

    fn untracked(&mut self, network: &str) -> Result<Vec<(AttachmentId, EngineRecord)>, CniError> {
        self.call("untracked".into())?;
        Ok(self
            .state()
            .ports
            .values()
            .filter(|p| p.network == network)
            .filter_map(|p| {
                AttachmentId::from_key(&p.owner).map(|id| (id, EngineRecord::OvsDpdk(p.clone())))
            })
            .collect())
    }

    fn status(&mut self) -> Result<(), CniError> {
        self.call("status".into())
    }
}
