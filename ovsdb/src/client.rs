//! A session with one database of a server: transactions whose every operation's result is
//! checked, and monitors whose notifications keep a [`Cache`].

use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::cache::{Cache, Kinds};
use crate::{Connection, Endpoint, Error, Operation, TlsFiles};

/// What one monitored table asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct MonitorRequest {
    /// The table.
    pub table: String,
    /// Its columns to watch (all when empty).
    pub columns: Vec<String>,
    /// `monitor_cond` only: conditions on the rows (all rows when empty).
    pub conditions: Vec<crate::Condition>,
}

impl MonitorRequest {
    /// All rows of `table`, the given columns.
    pub fn new(table: &str, columns: &[&str]) -> Self {
        Self {
            table: table.to_owned(),
            columns: columns.iter().map(|c| (*c).to_owned()).collect(),
            conditions: Vec::new(),
        }
    }

    fn to_json(&self, conditional: bool) -> Value {
        let mut o = Map::new();
        if !self.columns.is_empty() {
            o.insert("columns".into(), json!(self.columns));
        }
        if conditional && !self.conditions.is_empty() {
            let w: Vec<Value> = self
                .conditions
                .iter()
                .map(|c| {
                    Operation::Select {
                        table: String::new(),
                        conditions: vec![c.clone()],
                        columns: None,
                    }
                    .to_json()["where"][0]
                        .clone()
                })
                .collect();
            o.insert("where".into(), Value::Array(w));
        }
        Value::Object(o)
    }
}

/// A client of one database.
#[derive(Debug)]
pub struct Client {
    conn: Connection,
    database: String,
    cache: Cache,
    kinds: Option<Kinds>,
}

impl Client {
    /// Connects to `database` at `endpoint`.
    pub fn connect(
        endpoint: &Endpoint,
        tls: Option<&TlsFiles>,
        database: &str,
        timeout: Duration,
    ) -> Result<Self, Error> {
        Ok(Self::over(
            Connection::connect(endpoint, tls, timeout)?,
            database,
        ))
    }

    /// A client of `database` over an open connection.
    pub fn over(conn: Connection, database: &str) -> Self {
        Self {
            conn,
            database: database.to_owned(),
            cache: Cache::default(),
            kinds: None,
        }
    }

    /// The database.
    pub fn database(&self) -> &str {
        &self.database
    }

    /// The connection (for calls this client does not wrap).
    pub fn connection(&mut self) -> &mut Connection {
        &mut self.conn
    }

    /// The server's databases.
    pub fn list_dbs(&mut self) -> Result<Vec<String>, Error> {
        let v = self.conn.call("list_dbs", json!([]))?;
        serde_json::from_value(v.clone())
            .map_err(|_| Error::Unexpected(format!("list_dbs result {v}")))
    }

    /// Runs `ops` as one transaction; returns each operation's result. The JSON-RPC `error`
    /// is null even when an operation failed, so every element is checked. A `wait` with a
    /// timeout extends the time the reply may take.
    pub fn transact(&mut self, ops: &[Operation]) -> Result<Vec<Value>, Error> {
        let names: Vec<String> = ops.iter().map(|o| o.name().to_owned()).collect();
        let mut params = vec![json!(self.database)];
        params.extend(ops.iter().map(Operation::to_json));
        let wait: u64 = ops.iter().map(Operation::wait_ms).sum();
        let limit = self.conn.timeout() + Duration::from_millis(wait);
        let result = self
            .conn
            .call_within("transact", Value::Array(params), limit)?;
        check_results(&names, result)
    }

    /// Starts `monitor` (RFC 7047 §4.1.5) as `id`: the cache gets the current rows, then each
    /// `update` notification through [`Self::poll`].
    pub fn monitor(&mut self, id: &str, requests: &[MonitorRequest]) -> Result<(), Error> {
        let reqs = requests_json(requests, false);
        let initial = self
            .conn
            .call("monitor", json!([self.database, id, reqs]))?;
        self.cache.apply_update(&initial)
    }

    /// Starts `monitor_cond` (the OVSDB extension OVN uses) as `id`, conditions per table:
    /// the cache gets the current rows, then each `update2` through [`Self::poll`]. Reads the
    /// schema once: `update2` diffs mean different things for scalars, sets and maps.
    pub fn monitor_cond(&mut self, id: &str, requests: &[MonitorRequest]) -> Result<(), Error> {
        if self.kinds.is_none() {
            let schema = self.conn.call("get_schema", json!([self.database]))?;
            self.kinds = Some(Kinds::from_schema(&schema));
        }
        let reqs = requests_json(requests, true);
        let initial = self
            .conn
            .call("monitor_cond", json!([self.database, id, reqs]))?;
        self.apply2(&initial)
    }

    /// Applies the notifications that arrive within `wait` (at least one is waited for);
    /// returns how many were applied.
    pub fn poll(&mut self, wait: Duration) -> Result<usize, Error> {
        let mut applied = 0;
        let mut wait = wait;
        while let Some((method, params)) = self.conn.next_notification(wait)? {
            match method.as_str() {
                "update" => self.cache.apply_update(&params[1])?,
                "update2" => self.apply2(&params[1])?,
                _ => continue,
            }
            applied += 1;
            wait = Duration::ZERO;
        }
        Ok(applied)
    }

    /// The monitored rows.
    pub fn cache(&self) -> &Cache {
        &self.cache
    }

    fn apply2(&mut self, updates: &Value) -> Result<(), Error> {
        let kinds = self.kinds.clone().unwrap_or_default();
        self.cache.apply_update2(updates, &kinds)
    }
}

fn requests_json(requests: &[MonitorRequest], conditional: bool) -> Value {
    Value::Object(
        requests
            .iter()
            .map(|r| (r.table.clone(), r.to_json(conditional)))
            .collect(),
    )
}

/// Checks a transact result against the operations that produced it: the first element with
/// an `error` fails the transaction (one past the last operation: the commit failed).
pub fn check_results(ops: &[String], result: Value) -> Result<Vec<Value>, Error> {
    let Value::Array(items) = result else {
        return Err(Error::Unexpected(format!(
            "transact result is not an array: {result}"
        )));
    };
    for (index, item) in items.iter().enumerate() {
        if let Some(error) = item.get("error").and_then(Value::as_str) {
            return Err(Error::OpFailed {
                index,
                op: ops
                    .get(index)
                    .cloned()
                    .unwrap_or_else(|| "commit".to_owned()),
                error: error.to_owned(),
                details: item
                    .get("details")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            });
        }
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test
    use super::*;

    /// A reply in the shape ovsdb-server 3.1 gives when the second operation of three fails
    /// (RFC 7047 §4.1.3: later operations are not executed).
    const FAILED_2ND: &str = r#"[{"uuid":["uuid","0f6b2c1e-1111-4c1d-9b0e-2b6f3f0c7a11"]},{"error":"constraint violation","details":"Transaction causes multiple rows in \"Port\" table to have identical values (\"a-net1\") for index on column \"name\"."},null]"#;

    #[test]
    fn an_error_in_any_element_fails_the_transaction_and_names_the_op() {
        let ops = [
            "insert".to_owned(),
            "insert".to_owned(),
            "mutate".to_owned(),
        ];
        let e = check_results(&ops, serde_json::from_str(FAILED_2ND).unwrap()).unwrap_err();
        assert!(e.is_constraint_violation());
        let msg = e.to_string();
        assert!(
            msg.contains("operation 1 (insert): constraint violation")
                && msg.contains("identical values"),
            "{msg}"
        );
    }

    #[test]
    fn an_error_past_the_last_op_is_a_commit_failure() {
        let ops = ["insert".to_owned()];
        let e = check_results(
            &ops,
            json!([{"uuid": ["uuid", "x"]}, {"error": "timed out"}]),
        )
        .unwrap_err();
        assert!(e.to_string().contains("operation 1 (commit): timed out"));
    }
}
