//! A recording fake switch for the verb tests, neutral to the engine: it keeps what it was
//! asked to attach (the record, by the switch's name of it, with its owner), logs every call,
//! and can be told to fail any one of them. It is handed to [`crate::run_with`] in place of
//! the real engines, whatever `host.engine` says.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use userspace_cni_sdk::wire::Engine as EngineKind;

use super::{Connector, EngineRecord, Evidence, Held, Ownership, Switch};
use crate::cni::{CniError, ErrorCode};
use crate::config::Config;
use crate::identity::AttachmentId;

/// One attached port as the fake holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct FakePort {
    /// Whose (the tag a real switch keeps); tests change it to model another's port.
    pub owner: String,
    /// The network (tag).
    pub network: String,
    /// What the engine was handed.
    pub record: EngineRecord,
}

/// What the fake switch holds and saw.
#[derive(Debug, Default)]
pub struct FakeState {
    /// Ports by the switch's name.
    pub ports: BTreeMap<String, FakePort>,
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

impl Connector for FakeSwitch {
    fn connect(&self, _config: &Config, kind: EngineKind) -> Result<Box<dyn Switch>, CniError> {
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

impl Switch for FakeSwitch {
    fn attach(
        &mut self,
        planned: &EngineRecord,
        _held: &Held<'_>,
    ) -> Result<EngineRecord, CniError> {
        let name = planned.name();
        self.call(format!("attach {name}"))?;
        let mut s = self.state();
        match s.ports.get(&name) {
            Some(p) if p.owner != planned.owner() => Err(CniError::new(
                ErrorCode::Internal,
                format!("port {name} exists"),
            )),
            _ => {
                let port = FakePort {
                    owner: planned.owner().to_owned(),
                    network: planned.network().to_owned(),
                    record: planned.clone(),
                };
                s.ports.insert(name, port);
                Ok(planned.clone())
            }
        }
    }

    fn detach(&mut self, record: &EngineRecord, _held: &Held<'_>) -> Result<(), CniError> {
        let name = record.name();
        self.call(format!("detach {name}"))?;
        let mut s = self.state();
        if s.ports
            .get(&name)
            .is_some_and(|p| p.owner == record.owner())
        {
            s.ports.remove(&name);
        }
        Ok(())
    }

    fn check(&mut self, record: &EngineRecord) -> Result<Ownership, CniError> {
        let name = record.name();
        self.call(format!("check {name}"))?;
        Ok(match self.state().ports.get(&name) {
            None => Ownership::Missing,
            Some(p) if p.owner == record.owner() => Ownership::Ours,
            Some(p) => Ownership::NotOurs(p.owner.clone()),
        })
    }

    fn untracked(
        &mut self,
        network: &str,
        _evidence: &dyn Evidence,
    ) -> Result<Vec<(AttachmentId, EngineRecord)>, CniError> {
        self.call("untracked".into())?;
        Ok(self
            .state()
            .ports
            .values()
            .filter(|p| p.network == network)
            .filter_map(|p| AttachmentId::from_key(&p.owner).map(|id| (id, p.record.clone())))
            .collect())
    }

    fn status(&mut self) -> Result<(), CniError> {
        self.call("status".into())
    }
}
