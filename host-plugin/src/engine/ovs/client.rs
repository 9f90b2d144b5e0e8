//! What the plugin does on OVS: ports of type `dpdkvhostuser` / `dpdkvhostuserclient` on a
//! netdev bridge, tagged with `external_ids` so that CHECK and GC can find them. One write
//! transaction per ADD and per DEL, through the [`ovsdb`] crate on the `Open_vSwitch` database.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use ovsdb::value::{decode_map, decode_optional, decode_set, decode_uuid, map, named, set, uuid};
use ovsdb::{Client, Condition, Endpoint, Mutation, Mutator, Operation, Until, row};
use serde_json::{Map, Value, json};

/// The database this plugin writes.
pub const DATABASE: &str = "Open_vSwitch";

/// Everything that can go wrong on OVS: talking to it, and the engine's own steps around a
/// port. Which CNI code each is, is decided in `cni::classify`.
#[derive(Debug, thiserror::Error)]
pub enum OvsError {
    /// A config the ovs-dpdk engine cannot serve.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The OVSDB server or a transaction.
    #[error(transparent)]
    Db(#[from] ovsdb::Error),
    /// The port exists already.
    #[error("OVS port {0} already exists")]
    PortExists(String),
    /// The bridge does not exist and may not be created.
    #[error("OVS bridge {0} does not exist (create it, or let the plugin create it)")]
    BridgeMissing(String),
    /// ovs-vswitchd did not make a `dpdkvhostuser` socket in time.
    #[error(
        "ovs-vswitchd did not create {} within {}s: is it running with dpdk-init=true?",
        path.display(),
        waited.as_secs()
    )]
    SocketNotCreated {
        /// Where it was expected.
        path: PathBuf,
        /// How long the engine waited.
        waited: Duration,
    },
    /// OVS's socket could not be moved into the shared directory.
    #[error("cannot move {} to {}", from.display(), to.display())]
    MoveSocket {
        /// OVS's socket.
        from: PathBuf,
        /// Its place in the shared directory.
        to: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The mount point for OVS's socket (across filesystems) could not be made.
    #[error("cannot create {}", path.display())]
    MountPoint {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// OVS's socket could not be bind-mounted into the shared directory.
    #[error("cannot bind-mount {} on {}", from.display(), to.display())]
    BindMount {
        /// OVS's socket.
        from: PathBuf,
        /// The mount point.
        to: PathBuf,
        /// The cause.
        #[source]
        source: nix::Error,
    },
    /// OVS set the interface's `error` column.
    #[error("OVS reports an error on port {port}: {error}")]
    PortError {
        /// The port.
        port: String,
        /// What OVS says.
        error: String,
    },
}

impl OvsError {
    /// A constraint violation (e.g. a duplicate name in an indexed column).
    pub fn is_constraint_violation(&self) -> bool {
        matches!(self, Self::Db(e) if e.is_constraint_violation())
    }

    /// Operation `index` of the transaction failed.
    fn failed_at(&self, index: usize) -> bool {
        matches!(self, Self::Db(ovsdb::Error::OpFailed { index: i, .. }) if *i == index)
    }
}

fn eq(column: &str, v: Value) -> Condition {
    Condition::eq(column, v)
}

fn select(table: &str, conditions: Vec<Condition>, columns: &[&str]) -> Operation {
    Operation::Select {
        table: table.into(),
        conditions,
        columns: Some(columns.iter().map(|c| (*c).to_owned()).collect()),
    }
}

/// `wait` until the selected rows' `columns` equal `rows`, at once (a guard).
fn guard(
    table: &str,
    conditions: Vec<Condition>,
    columns: &[&str],
    rows: Vec<Map<String, Value>>,
) -> Operation {
    Operation::Wait {
        table: table.into(),
        conditions,
        columns: columns.iter().map(|c| (*c).to_owned()).collect(),
        until: Until::Eq,
        rows,
        timeout_ms: Some(0),
    }
}

fn mutate(
    table: &str,
    conditions: Vec<Condition>,
    column: &str,
    mutator: Mutator,
    v: Value,
) -> Operation {
    Operation::Mutate {
        table: table.into(),
        conditions,
        mutations: vec![Mutation::new(column, mutator, v)],
    }
}

fn rows(r: &[Value], i: usize) -> Vec<Value> {
    r.get(i)
        .and_then(|v| v["rows"].as_array().cloned())
        .unwrap_or_default()
}

/// `external_ids` key marking bridges this plugin created (the only ones it may delete).
pub const CREATED_BY_KEY: &str = "userspace-cni/created-by";
/// Its value.
pub const CREATED_BY: &str = "userspace-cni";

/// The vhost-user port flavours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortKind {
    /// OVS creates the socket in its run directory; the pod connects as client (deprecated
    /// by OVS, kept for old NADs).
    DpdkVhostUser,
    /// OVS connects to a socket the pod's app creates (server); survives OVS restarts.
    DpdkVhostUserClient {
        /// Where the pod's server socket will be, on the host.
        server_path: PathBuf,
    },
}

impl PortKind {
    fn type_name(&self) -> &'static str {
        match self {
            Self::DpdkVhostUser => "dpdkvhostuser",
            Self::DpdkVhostUserClient { .. } => "dpdkvhostuserclient",
        }
    }
}

/// A port to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortSpec {
    /// Bridge.
    pub bridge: String,
    /// Port and interface name.
    pub port: String,
    /// Flavour.
    pub kind: PortKind,
    /// Tags on the Port and Interface rows.
    pub external_ids: BTreeMap<String, String>,
    /// Create the bridge (netdev datapath) when absent.
    pub create_bridge: bool,
    /// The Port's `tag` (access VLAN), if any.
    pub tag: Option<u16>,
    /// The Interface's `mtu_request`, if any.
    pub mtu_request: Option<u32>,
    /// Spread what OVS sends to the pod over all its rx queues by 5-tuple hash
    /// (`other_config:tx-steering=hash`, OVS 3.1+). Without it a PMD thread transmits on
    /// one queue only, so with fewer PMDs than queues the pod's other queues stay idle.
    pub tx_steering_hash: bool,
}

/// What an add did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddedPort {
    /// Port row.
    pub port_uuid: String,
    /// Interface row.
    pub interface_uuid: String,
    /// Whether the bridge was created by this add.
    pub bridge_created: bool,
}

/// What [`OvsClient::remove_port_if`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Removal {
    /// The port was there and ours, and is gone.
    pub port_deleted: bool,
    /// The port was there but another's: left alone.
    pub owned_by_other: bool,
    /// The plugin-made bridge went with its last port.
    pub bridge_deleted: bool,
}

/// A port found by its tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortInfo {
    /// Name.
    pub name: String,
    /// Its bridge.
    pub bridge: Option<String>,
    /// Tags.
    pub external_ids: BTreeMap<String, String>,
}

/// An interface's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceInfo {
    /// `type`.
    pub interface_type: String,
    /// `options`.
    pub options: BTreeMap<String, String>,
    /// `external_ids`.
    pub external_ids: BTreeMap<String, String>,
    /// `mac_in_use`, once ovs-vswitchd set it up.
    pub mac_in_use: Option<String>,
    /// `ofport`, once ovs-vswitchd set it up (-1 on failure).
    pub ofport: Option<i64>,
    /// `error`, set by ovs-vswitchd when the port cannot be set up.
    pub error: Option<String>,
}

/// A connection to ovsdb-server.
#[derive(Debug)]
pub struct OvsClient {
    db: Client,
}

impl OvsClient {
    /// Connects to `endpoint` (`unix:/path` or `tcp:host:port`).
    pub fn connect(endpoint: &str, timeout: Duration) -> Result<Self, OvsError> {
        let ep = Endpoint::parse(endpoint)?;
        Ok(Self {
            db: Client::connect(&ep, None, DATABASE, timeout)?,
        })
    }

    fn transact(&mut self, ops: &[Operation]) -> Result<Vec<Value>, OvsError> {
        Ok(self.db.transact(ops)?)
    }

    fn select(
        &mut self,
        table: &str,
        conditions: Vec<Condition>,
        columns: &[&str],
    ) -> Result<Vec<Value>, OvsError> {
        Ok(rows(
            &self.transact(&[select(table, conditions, columns)])?,
            0,
        ))
    }

    /// The `Open_vSwitch` row's `external_ids` (`system-id`, `ovn-remote`, ...).
    pub fn system_ids(&mut self) -> Result<BTreeMap<String, String>, OvsError> {
        Ok(self
            .select("Open_vSwitch", vec![], &["external_ids"])?
            .first()
            .map(|r| decode_map(&r["external_ids"]))
            .unwrap_or_default())
    }

    /// Whether a bridge exists.
    pub fn bridge_exists(&mut self, name: &str) -> Result<bool, OvsError> {
        Ok(!self
            .select("Bridge", vec![eq("name", json!(name))], &["name"])?
            .is_empty())
    }

    /// A port's `external_ids`, `None` when there is no such port.
    pub fn port_tags(&mut self, name: &str) -> Result<Option<BTreeMap<String, String>>, OvsError> {
        Ok(self
            .select("Port", vec![eq("name", json!(name))], &["external_ids"])?
            .first()
            .map(|r| decode_map(&r["external_ids"])))
    }

    /// Adds the port in one transaction, one round trip when the bridge exists: a `wait`
    /// asserts that no port has the name, then the rows are inserted and the bridge's port set
    /// mutated. When the mutate found no bridge and creating it is allowed, a second
    /// transaction creates the bridge with the port.
    pub fn add_port(&mut self, spec: &PortSpec) -> Result<AddedPort, OvsError> {
        match self.add_port_tx(spec, false) {
            Err(OvsError::BridgeMissing(_)) if spec.create_bridge => {
                match self.add_port_tx(spec, true) {
                    // Another ADD created the bridge between our two transactions: the
                    // unique index on Bridge.name rejected ours, so add to theirs.
                    Err(e) if e.is_constraint_violation() => self.add_port_tx(spec, false),
                    r => r,
                }
            }
            r => r,
        }
    }

    fn add_port_tx(&mut self, spec: &PortSpec, create_bridge: bool) -> Result<AddedPort, OvsError> {
        let mut iface = row([
            ("name", json!(spec.port)),
            ("type", json!(spec.kind.type_name())),
            ("external_ids", map(&spec.external_ids)),
        ]);
        if let PortKind::DpdkVhostUserClient { server_path } = &spec.kind {
            let opts: BTreeMap<String, String> = [(
                "vhost-server-path".to_owned(),
                server_path.display().to_string(),
            )]
            .into();
            iface.insert("options".into(), map(&opts));
        }
        if let Some(mtu) = spec.mtu_request {
            iface.insert("mtu_request".into(), json!(mtu));
        }
        if spec.tx_steering_hash {
            let other: BTreeMap<String, String> =
                [("tx-steering".to_owned(), "hash".to_owned())].into();
            iface.insert("other_config".into(), map(&other));
        }
        let mut port = row([
            ("name", json!(spec.port)),
            ("interfaces", named("iface")),
            ("external_ids", map(&spec.external_ids)),
        ]);
        if let Some(tag) = spec.tag {
            port.insert("tag".into(), json!(tag));
        }
        let insert = |table: &str, row, name: &str| Operation::Insert {
            table: table.into(),
            row,
            uuid_name: Some(name.into()),
        };
        let mut ops = vec![
            guard(
                "Port",
                vec![eq("name", json!(spec.port))],
                &["name"],
                vec![],
            ),
            insert("Interface", iface, "iface"),
            insert("Port", port, "port"),
        ];
        if create_bridge {
            let ids: BTreeMap<String, String> =
                [(CREATED_BY_KEY.to_owned(), CREATED_BY.to_owned())].into();
            let bridge = row([
                ("name", json!(spec.bridge)),
                ("datapath_type", json!("netdev")),
                ("ports", set([named("port")])),
                ("external_ids", map(&ids)),
            ]);
            ops.push(insert("Bridge", bridge, "br"));
            ops.push(mutate(
                "Open_vSwitch",
                vec![],
                "bridges",
                Mutator::Insert,
                set([named("br")]),
            ));
        } else {
            let cond = vec![eq("name", json!(spec.bridge))];
            ops.push(mutate(
                "Bridge",
                cond,
                "ports",
                Mutator::Insert,
                set([named("port")]),
            ));
        }
        let r = match self.transact(&ops) {
            Err(e) if e.failed_at(0) => return Err(OvsError::PortExists(spec.port.clone())),
            r => r?,
        };
        // A mutate that matched no bridge commits nothing useful (the rows are garbage).
        if !create_bridge && r.get(3).and_then(|m| m["count"].as_u64()) == Some(0) {
            return Err(OvsError::BridgeMissing(spec.bridge.clone()));
        }
        let id = |i: usize| {
            r.get(i)
                .and_then(|v| decode_uuid(&v["uuid"]))
                .unwrap_or_default()
        };
        Ok(AddedPort {
            interface_uuid: id(1),
            port_uuid: id(2),
            bridge_created: create_bridge,
        })
    }

    /// Removes port `name` if `ours` accepts its `external_ids`, and the bridge with it when the
    /// plugin made the bridge and the port was its last. Two round trips (read; remove the
    /// port and ask whether the bridge is empty now), a third only for the last port of a
    /// plugin-made bridge (its `wait` leaves the bridge if a port joined meanwhile). No reply
    /// carries the bridge's port set, so a DEL costs the same with 10 ports or 2,000.
    pub fn remove_port_if(
        &mut self,
        name: &str,
        bridge: &str,
        ours: impl Fn(&BTreeMap<String, String>) -> bool,
    ) -> Result<Removal, OvsError> {
        let empty = set([]);
        let r = self.transact(&[
            select(
                "Port",
                vec![eq("name", json!(name))],
                &["_uuid", "external_ids"],
            ),
            select(
                "Bridge",
                vec![eq("name", json!(bridge))],
                &["_uuid", "external_ids"],
            ),
            select(
                "Bridge",
                vec![eq("name", json!(bridge)), eq("ports", empty.clone())],
                &["_uuid"],
            ),
        ])?;
        let port = rows(&r, 0).first().cloned();
        let bridge_row = rows(&r, 1).first().cloned();
        let mut bridge_empty = !rows(&r, 2).is_empty();
        let mut removal = Removal::default();
        let bridge_uuid = bridge_row.as_ref().and_then(|b| decode_uuid(&b["_uuid"]));
        if let Some(p) = &port {
            if !ours(&decode_map(&p["external_ids"])) {
                removal.owned_by_other = true;
                return Ok(removal);
            }
            let Some(u) = decode_uuid(&p["_uuid"]) else {
                return Err(ovsdb::Error::Unexpected(format!("port {name} without _uuid")).into());
            };
            let mut ops = vec![detach_port(&u)];
            if let Some(b) = &bridge_uuid {
                ops.push(select(
                    "Bridge",
                    vec![eq("_uuid", uuid(b)), eq("ports", empty.clone())],
                    &["_uuid"],
                ));
            }
            let r = self.transact(&ops)?;
            bridge_empty = bridge_uuid.is_some() && !rows(&r, 1).is_empty();
            removal.port_deleted = true;
        }
        let bridge_ours = bridge_row.as_ref().is_some_and(|b| {
            decode_map(&b["external_ids"])
                .get(CREATED_BY_KEY)
                .map(String::as_str)
                == Some(CREATED_BY)
        });
        if let (true, true, Some(b)) = (bridge_ours, bridge_empty, &bridge_uuid) {
            match self.delete_empty_bridge(b) {
                Ok(()) => removal.bridge_deleted = true,
                // A port joined the bridge meanwhile: it stays.
                Err(e) if e.failed_at(0) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(removal)
    }

    /// Removes bridge `b` from the switch if it still has no ports (its `wait` fails the
    /// transaction at operation 0 otherwise).
    fn delete_empty_bridge(&mut self, b: &str) -> Result<(), OvsError> {
        self.transact(&[
            guard(
                "Bridge",
                vec![eq("_uuid", uuid(b))],
                &["ports"],
                vec![row([("ports", set([]))])],
            ),
            mutate(
                "Open_vSwitch",
                vec![],
                "bridges",
                Mutator::Delete,
                set([uuid(b)]),
            ),
        ])
        .map(|_| ())
    }

    /// Ports whose `external_ids` contain all of `filter`.
    pub fn find_ports(
        &mut self,
        filter: &BTreeMap<String, String>,
    ) -> Result<Vec<PortInfo>, OvsError> {
        let ports = self.select(
            "Port",
            vec![Condition::includes("external_ids", map(filter))],
            &["_uuid", "name", "external_ids"],
        )?;
        let bridges = self.select("Bridge", vec![], &["name", "ports"])?;
        let mut owner: BTreeMap<String, String> = BTreeMap::new();
        for b in &bridges {
            let bname = b["name"].as_str().unwrap_or_default().to_owned();
            for p in decode_set(&b["ports"]) {
                if let Some(u) = decode_uuid(&p) {
                    owner.insert(u, bname.clone());
                }
            }
        }
        Ok(ports
            .iter()
            .map(|p| PortInfo {
                name: p["name"].as_str().unwrap_or_default().to_owned(),
                bridge: decode_uuid(&p["_uuid"]).and_then(|u| owner.get(&u).cloned()),
                external_ids: decode_map(&p["external_ids"]),
            })
            .collect())
    }

    /// An interface by name.
    pub fn get_interface(&mut self, name: &str) -> Result<Option<InterfaceInfo>, OvsError> {
        let rows = self.select(
            "Interface",
            vec![eq("name", json!(name))],
            &[
                "type",
                "options",
                "external_ids",
                "mac_in_use",
                "ofport",
                "error",
            ],
        )?;
        Ok(rows.first().map(|r| InterfaceInfo {
            interface_type: r["type"].as_str().unwrap_or_default().to_owned(),
            options: decode_map(&r["options"]),
            external_ids: decode_map(&r["external_ids"]),
            mac_in_use: decode_optional(&r["mac_in_use"])
                .and_then(|v| v.as_str().map(str::to_owned)),
            ofport: decode_optional(&r["ofport"]).and_then(|v| v.as_i64()),
            error: decode_optional(&r["error"]).and_then(|v| v.as_str().map(str::to_owned)),
        }))
    }
}

/// Takes port `u` out of whichever bridge holds it (OVSDB then collects the Port and its
/// Interface, which nothing else refers to).
fn detach_port(u: &str) -> Operation {
    mutate(
        "Bridge",
        vec![Condition::includes("ports", uuid(u))],
        "ports",
        Mutator::Delete,
        set([uuid(u)]),
    )
}
