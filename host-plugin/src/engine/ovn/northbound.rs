//! What the plugin does in OVN's northbound database: one `Logical_Switch_Port` per
//! attachment, tagged in `external_ids`, joined to the logical switch in one transaction
//! guarded by a `wait` on the switch (an insert into a missing switch would commit and the
//! port row be silently collected), and removed with a mutate of the switch's `ports` (the
//! row is then collected).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use ipnet::IpNet;
use ovsdb::value::{decode_map, decode_optional, decode_set, decode_uuid, map, named, set, uuid};
use ovsdb::{Client, Condition, Function, Mutation, Mutator, Operation, Until, row};
use serde_json::{Map, Value, json};

/// The database.
pub const DATABASE: &str = "OVN_Northbound";
/// `external_ids` key marking a logical switch the plugin created.
pub const CREATED_BY_KEY: &str = "userspace-cni/created-by";
/// Its value.
pub const CREATED_BY: &str = "userspace-cni";

/// Northbound failures (their CNI codes are decided in `cni::classify`).
#[derive(Debug, thiserror::Error)]
pub enum NbError {
    /// The server or a transaction.
    #[error(transparent)]
    Db(#[from] ovsdb::Error),
    /// The logical switch is not there and the plugin may not create it.
    #[error(
        "OVN logical switch {0} does not exist (create it, or set ovn.createSwitch to let the plugin)"
    )]
    SwitchMissing(String),
    /// northd did not fill `dynamic_addresses` in time.
    #[error(
        "OVN gave logical switch port {0} no dynamic address (does the switch have other_config:subnet, and is ovn-northd running?)"
    )]
    NoDynamicAddress(String),
}

/// A logical switch port as the plugin reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lsp {
    /// `_uuid`.
    pub uuid: String,
    /// `name`.
    pub name: String,
    /// `external_ids`.
    pub external_ids: BTreeMap<String, String>,
    /// `options`.
    pub options: BTreeMap<String, String>,
    /// `addresses`.
    pub addresses: Vec<String>,
    /// `dynamic_addresses`, once northd filled it.
    pub dynamic_addresses: Option<String>,
    /// `up`.
    pub up: bool,
}

/// What a new port is given.
#[derive(Debug, Clone)]
pub struct NewLsp<'a> {
    /// The switch.
    pub switch: &'a str,
    /// The port's name.
    pub name: &'a str,
    /// `addresses` (`"<mac> <ip>..."` or `"<mac> dynamic"`).
    pub addresses: String,
    /// `port_security`, unless the address is dynamic (set once it is known).
    pub port_security: Option<String>,
    /// `options:requested-chassis`.
    pub chassis: &'a str,
    /// `external_ids`.
    pub external_ids: BTreeMap<String, String>,
    /// Create the switch (tagged) when it is missing, with this `other_config:subnet`.
    pub create_switch: Option<Option<IpNet>>,
}

/// A session with the northbound database.
#[derive(Debug)]
pub struct Northbound {
    db: Client,
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

fn rows(results: &[Value], i: usize) -> Vec<Value> {
    results
        .get(i)
        .and_then(|r| r["rows"].as_array())
        .cloned()
        .unwrap_or_default()
}

const LSP_COLUMNS: [&str; 7] = [
    "_uuid",
    "name",
    "addresses",
    "external_ids",
    "options",
    "dynamic_addresses",
    "up",
];

fn lsp_of(r: &Value) -> Lsp {
    let optional_str = |v: &Value| decode_optional(v).and_then(|s| s.as_str().map(str::to_owned));
    let up = decode_optional(&r["up"])
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    Lsp {
        uuid: decode_uuid(&r["_uuid"]).unwrap_or_default(),
        name: r["name"].as_str().unwrap_or_default().to_owned(),
        external_ids: decode_map(&r["external_ids"]),
        options: decode_map(&r["options"]),
        addresses: decode_set(&r["addresses"])
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        dynamic_addresses: optional_str(&r["dynamic_addresses"]).filter(|s| !s.is_empty()),
        up,
    }
}

impl Northbound {
    /// Connects.
    pub fn over(db: Client) -> Self {
        Self { db }
    }

    fn transact(&mut self, ops: &[Operation]) -> Result<Vec<Value>, NbError> {
        Ok(self.db.transact(ops)?)
    }

    /// Whether the database answers (STATUS).
    pub fn ping(&mut self) -> Result<(), NbError> {
        self.transact(&[select("NB_Global", vec![], &["_uuid"])])
            .map(|_| ())
    }

    /// The port named `name`.
    pub fn port(&mut self, name: &str) -> Result<Option<Lsp>, NbError> {
        let r = self.transact(&[select(
            "Logical_Switch_Port",
            vec![eq("name", json!(name))],
            &LSP_COLUMNS,
        )])?;
        Ok(rows(&r, 0).first().map(lsp_of))
    }

    /// Ports whose `external_ids` hold all of `filter`.
    pub fn ports_tagged(&mut self, filter: &BTreeMap<String, String>) -> Result<Vec<Lsp>, NbError> {
        let r = self.transact(&[select(
            "Logical_Switch_Port",
            vec![Condition::includes("external_ids", map(filter))],
            &LSP_COLUMNS,
        )])?;
        Ok(rows(&r, 0).iter().map(lsp_of).collect())
    }

    /// Inserts the port into its switch (creating the switch first when allowed and
    /// missing); returns the port's uuid. A port of the same name makes the commit fail (the
    /// name is indexed).
    pub fn insert(&mut self, p: &NewLsp<'_>) -> Result<String, NbError> {
        match self.insert_once(p) {
            // Another node created the switch between our read and our commit (the `wait`
            // that it is still missing failed): join theirs.
            Err(NbError::Db(ovsdb::Error::OpFailed { index: 0, .. }))
                if p.create_switch.is_some() =>
            {
                self.insert_once(p)
            }
            r => r,
        }
    }

    fn insert_once(&mut self, p: &NewLsp<'_>) -> Result<String, NbError> {
        let exists = !rows(
            &self.transact(&[select(
                "Logical_Switch",
                vec![eq("name", json!(p.switch))],
                &["_uuid"],
            )])?,
            0,
        )
        .is_empty();
        let create = match (&p.create_switch, exists) {
            (_, true) => None,
            (Some(subnet), false) => Some(*subnet),
            (None, false) => return Err(NbError::SwitchMissing(p.switch.to_owned())),
        };
        let mut lsp = row([
            ("name", json!(p.name)),
            ("addresses", set([json!(p.addresses)])),
            (
                "options",
                map(&[("requested-chassis".to_owned(), p.chassis.to_owned())].into()),
            ),
            ("external_ids", map(&p.external_ids)),
        ]);
        if let Some(ps) = &p.port_security {
            lsp.insert("port_security".into(), set([json!(ps)]));
        }
        let switch_row = || {
            let mut m = Map::new();
            m.insert("name".into(), json!(p.switch));
            m
        };
        let mut ops = vec![Operation::Wait {
            table: "Logical_Switch".into(),
            conditions: vec![eq("name", json!(p.switch))],
            columns: vec!["name".into()],
            until: Until::Eq,
            // Exists (or, when creating, does not yet: two nodes never both create it).
            rows: if create.is_some() {
                vec![]
            } else {
                vec![switch_row()]
            },
            timeout_ms: Some(0),
        }];
        ops.push(Operation::Insert {
            table: "Logical_Switch_Port".into(),
            row: lsp,
            uuid_name: Some("lsp".into()),
        });
        match create {
            Some(subnet) => {
                let mut sw = row([
                    ("name", json!(p.switch)),
                    ("ports", set([named("lsp")])),
                    (
                        "external_ids",
                        map(&[(CREATED_BY_KEY.to_owned(), CREATED_BY.to_owned())].into()),
                    ),
                ]);
                if let Some(net) = subnet {
                    sw.insert(
                        "other_config".into(),
                        map(&[("subnet".to_owned(), net.trunc().to_string())].into()),
                    );
                }
                ops.push(Operation::Insert {
                    table: "Logical_Switch".into(),
                    row: sw,
                    uuid_name: None,
                });
            }
            None => ops.push(Operation::Mutate {
                table: "Logical_Switch".into(),
                conditions: vec![eq("name", json!(p.switch))],
                mutations: vec![Mutation::new("ports", Mutator::Insert, set([named("lsp")]))],
            }),
        }
        let r = self.transact(&ops)?;
        Ok(r.get(1)
            .and_then(|v| decode_uuid(&v["uuid"]))
            .unwrap_or_default())
    }

    /// Waits (server-side, up to `limit`) for northd to fill the port's `dynamic_addresses`,
    /// then copies them into `port_security` (which has no "dynamic" form); returns them.
    pub fn settle_dynamic(&mut self, lsp_uuid: &str, limit: Duration) -> Result<String, NbError> {
        let cond = || vec![eq("_uuid", uuid(lsp_uuid))];
        let mut empty = Map::new();
        empty.insert("dynamic_addresses".into(), set([]));
        let r = self.transact(&[
            Operation::Wait {
                table: "Logical_Switch_Port".into(),
                conditions: cond(),
                columns: vec!["dynamic_addresses".into()],
                until: Until::Ne,
                rows: vec![empty],
                timeout_ms: Some(u64::try_from(limit.as_millis()).unwrap_or(u64::MAX)),
            },
            select("Logical_Switch_Port", cond(), &LSP_COLUMNS),
        ]);
        let lsp = match r {
            Ok(r) => rows(&r, 1).first().map(lsp_of),
            Err(NbError::Db(e)) if e.to_string().contains("timed out") => None,
            Err(e) => return Err(e),
        };
        let Some(dynamic) = lsp.and_then(|l| l.dynamic_addresses) else {
            return Err(NbError::NoDynamicAddress(lsp_uuid.to_owned()));
        };
        self.transact(&[Operation::Update {
            table: "Logical_Switch_Port".into(),
            conditions: cond(),
            row: row([("port_security", set([json!(dynamic)]))]),
        }])?;
        Ok(dynamic)
    }

    /// Takes the port out of its switch (the row is then collected), and a switch the plugin
    /// created with it when that was its last port (atomically: a port another node added
    /// meanwhile keeps it).
    pub fn remove(&mut self, lsp_uuid: &str) -> Result<(), NbError> {
        let owning = self.transact(&[select(
            "Logical_Switch",
            vec![Condition::includes("ports", uuid(lsp_uuid))],
            &["_uuid", "name"],
        )])?;
        let switch = rows(&owning, 0)
            .first()
            .and_then(|r| decode_uuid(&r["_uuid"]));
        let mut ops = vec![Operation::Mutate {
            table: "Logical_Switch".into(),
            conditions: vec![Condition::includes("ports", uuid(lsp_uuid))],
            mutations: vec![Mutation::new(
                "ports",
                Mutator::Delete,
                set([uuid(lsp_uuid)]),
            )],
        }];
        if let Some(sw) = switch {
            ops.push(Operation::Delete {
                table: "Logical_Switch".into(),
                conditions: vec![
                    eq("_uuid", uuid(&sw)),
                    Condition::new("ports", Function::Eq, set([])),
                    Condition::includes(
                        "external_ids",
                        map(&[(CREATED_BY_KEY.to_owned(), CREATED_BY.to_owned())].into()),
                    ),
                ],
            });
        }
        self.transact(&ops).map(|_| ())
    }

    /// The switch's `other_config:subnet` and the gateway: the address, inside that subnet,
    /// of a router port the switch is attached to.
    pub fn subnet_and_gateway(
        &mut self,
        switch: &str,
    ) -> Result<(Option<IpNet>, Option<IpAddr>), NbError> {
        let r = self.transact(&[select(
            "Logical_Switch",
            vec![eq("name", json!(switch))],
            &["other_config", "ports"],
        )])?;
        let Some(sw) = rows(&r, 0).into_iter().next() else {
            return Ok((None, None));
        };
        let subnet = decode_map(&sw["other_config"])
            .get("subnet")
            .and_then(|s| s.parse::<IpNet>().ok());
        let Some(subnet) = subnet else {
            return Ok((None, None));
        };
        let ports: Vec<Value> = decode_set(&sw["ports"])
            .iter()
            .filter_map(decode_uuid)
            .map(|u| uuid(&u))
            .collect();
        if ports.is_empty() {
            return Ok((Some(subnet), None));
        }
        let routers = self.transact(&[select(
            "Logical_Switch_Port",
            vec![eq("type", json!("router"))],
            &["_uuid", "options"],
        )])?;
        let names: Vec<String> = rows(&routers, 0)
            .iter()
            .filter(|r| decode_uuid(&r["_uuid"]).is_some_and(|u| ports.contains(&uuid(&u))))
            .filter_map(|r| decode_map(&r["options"]).get("router-port").cloned())
            .collect();
        for name in names {
            let lrp = self.transact(&[select(
                "Logical_Router_Port",
                vec![eq("name", json!(name))],
                &["networks"],
            )])?;
            for r in rows(&lrp, 0) {
                for n in decode_set(&r["networks"]) {
                    if let Some(net) = n.as_str().and_then(|s| s.parse::<IpNet>().ok())
                        && subnet.contains(&net.addr())
                    {
                        return Ok((Some(subnet), Some(net.addr())));
                    }
                }
            }
        }
        Ok((Some(subnet), None))
    }
}
