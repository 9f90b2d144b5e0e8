//! `transact` on the `Open_vSwitch` database and the OVSDB value encodings (RFC 7047 §5.1):
//! `["set",[…]]`, `["map",[[k,v],…]]`, `["uuid","…"]`, `["named-uuid","…"]`.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::jsonrpc::{Connection, RpcError};

/// The database this plugin writes.
pub const DATABASE: &str = "Open_vSwitch";

/// Everything that can go wrong talking to OVS.
#[derive(Debug, thiserror::Error)]
pub enum OvsError {
    /// Transport.
    #[error(transparent)]
    Rpc(#[from] RpcError),
    /// One operation of a transaction failed (the others were rolled back).
    #[error("OVSDB transaction failed at operation {index} ({op}): {error}{}", details.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    OpFailed {
        /// Index of the failed operation (= number of operations for a commit failure).
        index: usize,
        /// The operation's `op`.
        op: String,
        /// The server's `error`.
        error: String,
        /// The server's `details`.
        details: Option<String>,
    },
    /// A reply of an unexpected shape.
    #[error("unexpected OVSDB reply: {0}")]
    Unexpected(String),
    /// The port exists already.
    #[error("OVS port {0} already exists")]
    PortExists(String),
    /// The bridge does not exist and may not be created.
    #[error("OVS bridge {0} does not exist (create it, or let the plugin create it)")]
    BridgeMissing(String),
}

impl OvsError {
    /// Worth retrying later (CNI code 11).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Rpc(e) => e.is_transient(),
            _ => false,
        }
    }

    /// A constraint violation (e.g. a duplicate name in an indexed column).
    pub fn is_constraint_violation(&self) -> bool {
        matches!(self, Self::OpFailed { error, .. } if error == "constraint violation")
    }
}

/// Runs a transaction; every element of the result is checked for `error`, because the
/// JSON-RPC `error` is null even when an operation failed.
pub fn transact(conn: &mut Connection, ops: Vec<Value>) -> Result<Vec<Value>, OvsError> {
    let names: Vec<String> = ops
        .iter()
        .map(|o| o["op"].as_str().unwrap_or("?").to_owned())
        .collect();
    let mut params = vec![json!(DATABASE)];
    params.extend(ops);
    let result = conn.call("transact", Value::Array(params))?;
    check_results(&names, result)
}

/// Checks a transact result against the operations that produced it.
pub fn check_results(ops: &[String], result: Value) -> Result<Vec<Value>, OvsError> {
    let Value::Array(items) = result else {
        return Err(OvsError::Unexpected(format!(
            "transact result is not an array: {result}"
        )));
    };
    for (index, item) in items.iter().enumerate() {
        if let Some(error) = item.get("error").and_then(Value::as_str) {
            return Err(OvsError::OpFailed {
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

/// `["map", [[k, v], …]]`.
pub fn map(m: &BTreeMap<String, String>) -> Value {
    json!([
        "map",
        m.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>()
    ])
}

/// `["named-uuid", name]`.
pub fn named(name: &str) -> Value {
    json!(["named-uuid", name])
}

/// `["uuid", id]`.
pub fn uuid(id: &str) -> Value {
    json!(["uuid", id])
}

/// Decodes an OVSDB map into strings (non-string atoms are rendered as JSON).
pub fn decode_map(v: &Value) -> BTreeMap<String, String> {
    let atom = |a: &Value| a.as_str().map_or_else(|| a.to_string(), str::to_owned);
    match v {
        Value::Array(a) if a.len() == 2 && a[0] == "map" => a[1]
            .as_array()
            .map(|pairs| {
                pairs
                    .iter()
                    .filter_map(|p| Some((atom(p.get(0)?), atom(p.get(1)?))))
                    .collect()
            })
            .unwrap_or_default(),
        _ => BTreeMap::new(),
    }
}

/// Decodes a set (or a single atom, which OVSDB uses for one-element sets).
pub fn decode_set(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(a) if a.len() == 2 && a[0] == "set" => {
            a[1].as_array().cloned().unwrap_or_default()
        }
        Value::Null => Vec::new(),
        other => vec![other.clone()],
    }
}

/// The UUID string of a `["uuid", "…"]` atom.
pub fn decode_uuid(v: &Value) -> Option<String> {
    match v {
        Value::Array(a) if a.len() == 2 && a[0] == "uuid" => a[1].as_str().map(str::to_owned),
        _ => None,
    }
}

/// An optional scalar column: the atom itself, or the empty set.
pub fn decode_optional(v: &Value) -> Option<Value> {
    match decode_set(v).as_slice() {
        [one] => Some(one.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reply in the shape ovsdb-server 3.1 gives when the second operation of three fails
    /// (written for this test from RFC 7047 §4.1.3: later operations are not executed).
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

    #[test]
    fn maps_sets_and_uuids_round_trip() {
        let m: BTreeMap<String, String> = [("a".to_owned(), "1".to_owned())].into();
        assert_eq!(decode_map(&map(&m)), m);
        assert_eq!(
            decode_set(&json!(["set", [1, 2]])),
            vec![json!(1), json!(2)]
        );
        assert_eq!(
            decode_set(&json!(["uuid", "u"])),
            vec![json!(["uuid", "u"])]
        );
        assert_eq!(decode_uuid(&uuid("u")), Some("u".to_owned()));
        assert_eq!(decode_optional(&json!(["set", []])), None);
        assert_eq!(decode_optional(&json!(5)), Some(json!(5)));
    }
}
