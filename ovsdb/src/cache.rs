//! The local copy a monitor keeps: rows by table and UUID, brought up to date by the server's
//! `update` (RFC 7047 §4.1.6: `new` holds every monitored column) and `update2` (the
//! `monitor_cond` extension: `modify` holds differences, whose meaning depends on the
//! column's type in the schema) notifications.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::Error;
use crate::value::{decode_set, set};

/// A row: its monitored columns.
pub type Row = Map<String, Value>;

/// What a column holds, from the schema (`update2` diffs differ by it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ColumnKind {
    Scalar,
    Set,
    Map,
}

/// Column kinds per table, from `get_schema`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Kinds(BTreeMap<String, BTreeMap<String, ColumnKind>>);

impl Kinds {
    pub(crate) fn from_schema(schema: &Value) -> Self {
        let mut out = BTreeMap::new();
        let tables = schema.get("tables").and_then(Value::as_object);
        for (t, def) in tables.into_iter().flatten() {
            let cols = def.get("columns").and_then(Value::as_object);
            let kinds = cols
                .into_iter()
                .flatten()
                .map(|(c, d)| (c.clone(), column_kind(&d["type"])))
                .collect();
            out.insert(t.clone(), kinds);
        }
        Self(out)
    }

    fn of(&self, table: &str, column: &str) -> ColumnKind {
        self.0
            .get(table)
            .and_then(|t| t.get(column))
            .copied()
            .unwrap_or(ColumnKind::Scalar)
    }
}

fn column_kind(ty: &Value) -> ColumnKind {
    let Some(o) = ty.as_object() else {
        return ColumnKind::Scalar;
    };
    if o.contains_key("value") {
        return ColumnKind::Map;
    }
    let n = |k: &str| o.get(k).map_or(Some(1), Value::as_u64);
    let max_one = o.get("max").is_none_or(|m| m.as_u64() == Some(1));
    if n("min") == Some(1) && max_one {
        ColumnKind::Scalar
    } else {
        ColumnKind::Set
    }
}

/// The monitored tables' rows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cache {
    tables: BTreeMap<String, BTreeMap<String, Row>>,
}

impl Cache {
    /// The rows of `table`, by UUID.
    pub fn table(&self, table: &str) -> impl Iterator<Item = (&str, &Row)> {
        self.tables
            .get(table)
            .into_iter()
            .flatten()
            .map(|(u, r)| (u.as_str(), r))
    }

    /// One row.
    pub fn row(&self, table: &str, uuid: &str) -> Option<&Row> {
        self.tables.get(table)?.get(uuid)
    }

    /// Applies `<table-updates>` of the `update` notification (and `monitor`'s reply).
    pub(crate) fn apply_update(&mut self, updates: &Value) -> Result<(), Error> {
        for (table, rows) in objects(updates, "table-updates")? {
            let t = self.tables.entry(table.clone()).or_default();
            for (uuid, change) in objects(rows, "table-update")? {
                match change.get("new").and_then(Value::as_object) {
                    Some(new) => {
                        t.insert(uuid.clone(), new.clone());
                    }
                    None => {
                        t.remove(uuid);
                    }
                }
            }
        }
        Ok(())
    }

    /// Applies `<table-updates2>` of the `update2` notification (and `monitor_cond`'s reply).
    pub(crate) fn apply_update2(&mut self, updates: &Value, kinds: &Kinds) -> Result<(), Error> {
        for (table, rows) in objects(updates, "table-updates2")? {
            let t = self.tables.entry(table.clone()).or_default();
            for (uuid, change) in objects(rows, "table-update2")? {
                let body = |k: &str| change.get(k).and_then(Value::as_object);
                if let Some(row) = body("initial").or_else(|| body("insert")) {
                    t.insert(uuid.clone(), row.clone());
                } else if let Some(diff) = body("modify") {
                    let row = t.entry(uuid.clone()).or_default();
                    for (col, d) in diff {
                        let old = row.remove(col);
                        let new = apply_diff(kinds.of(table, col), old.as_ref(), d);
                        row.insert(col.clone(), new);
                    }
                } else if change.get("delete").is_some() {
                    t.remove(uuid);
                } else {
                    return Err(Error::Unexpected(format!("row update {change}")));
                }
            }
        }
        Ok(())
    }
}

fn objects<'a>(v: &'a Value, what: &str) -> Result<&'a Map<String, Value>, Error> {
    v.as_object()
        .ok_or_else(|| Error::Unexpected(format!("{what} is not an object: {v}")))
}

/// `update2`'s `modify`: a scalar's new value; for a set the elements to add or remove
/// (present: removed, absent: added); for a map the pairs to add, remove (same value) or
/// replace (another value).
fn apply_diff(kind: ColumnKind, old: Option<&Value>, diff: &Value) -> Value {
    match kind {
        ColumnKind::Scalar => diff.clone(),
        ColumnKind::Set => {
            let mut items = old.map(decode_set).unwrap_or_default();
            for e in decode_set(diff) {
                match items.iter().position(|x| *x == e) {
                    Some(i) => {
                        items.remove(i);
                    }
                    None => items.push(e),
                }
            }
            set(items)
        }
        ColumnKind::Map => {
            let pairs = |v: Option<&Value>| -> Vec<(Value, Value)> {
                v.and_then(|v| v.get(1))
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|p| Some((p.get(0)?.clone(), p.get(1)?.clone())))
                            .collect()
                    })
                    .unwrap_or_default()
            };
            let mut m = pairs(old);
            for (k, v) in pairs(Some(diff)) {
                match m.iter().position(|(x, _)| *x == k) {
                    Some(i) if m[i].1 == v => {
                        m.remove(i);
                    }
                    Some(i) => m[i].1 = v,
                    None => m.push((k, v)),
                }
            }
            let pairs: Vec<Value> = m
                .into_iter()
                .map(|(k, v)| Value::Array(vec![k, v]))
                .collect();
            Value::Array(vec![Value::String("map".into()), Value::Array(pairs)])
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test
    use serde_json::json;

    use super::*;

    fn kinds() -> Kinds {
        Kinds::from_schema(&json!({"tables": {"Interface": {"columns": {
            "name": {"type": "string"},
            "ofport": {"type": {"key": "integer", "min": 0, "max": 1}},
            "external_ids": {"type": {"key": "string", "value": "string", "min": 0, "max": "unlimited"}},
        }}}}))
    }

    #[test]
    fn update2_diffs_apply_per_column_kind() {
        let mut c = Cache::default();
        c.apply_update2(
            &json!({"Interface": {"u1": {"initial": {"name": "p1", "ofport": ["set", []],
                    "external_ids": ["map", [["a", "1"], ["b", "2"]]]}}}}),
            &kinds(),
        )
        .unwrap();
        c.apply_update2(
            &json!({"Interface": {"u1": {"modify": {"name": "p2", "ofport": 7,
                    "external_ids": ["map", [["a", "1"], ["b", "3"], ["c", "4"]]]}}}}),
            &kinds(),
        )
        .unwrap();
        let r = c.row("Interface", "u1").unwrap();
        assert_eq!(r["name"], "p2");
        assert_eq!(r["ofport"], json!(["set", [7]]));
        assert_eq!(r["external_ids"], json!(["map", [["b", "3"], ["c", "4"]]]));
        c.apply_update2(&json!({"Interface": {"u1": {"delete": null}}}), &kinds())
            .unwrap();
        assert_eq!(c.table("Interface").count(), 0);
    }

    #[test]
    fn update_replaces_the_row_with_new_and_deletes_without_it() {
        let mut c = Cache::default();
        c.apply_update(&json!({"Port": {"u": {"new": {"name": "a"}}}}))
            .unwrap();
        c.apply_update(&json!({"Port": {"u": {"old": {"name": "a"}, "new": {"name": "b"}}}}))
            .unwrap();
        assert_eq!(c.row("Port", "u").unwrap()["name"], "b");
        c.apply_update(&json!({"Port": {"u": {"old": {"name": "b"}}}}))
            .unwrap();
        assert!(c.row("Port", "u").is_none());
    }
}
