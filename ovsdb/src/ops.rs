//! Typed database operations (RFC 7047 §5.2): what a `transact` carries. The client knows no
//! schema: tables, columns and values are the caller's.

use serde_json::{Map, Value, json};

/// A condition's function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    /// `==`.
    Eq,
    /// `!=`.
    Ne,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
    /// `includes` (sets and maps).
    Includes,
    /// `excludes` (sets and maps).
    Excludes,
}

impl Function {
    fn as_str(self) -> &'static str {
        match self {
            Self::Eq => "==",
            Self::Ne => "!=",
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
            Self::Includes => "includes",
            Self::Excludes => "excludes",
        }
    }
}

/// `[column, function, value]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// The column (`_uuid` for the row's UUID).
    pub column: String,
    /// The function.
    pub function: Function,
    /// The value, in OVSDB notation.
    pub value: Value,
}

impl Condition {
    /// `column == value`.
    pub fn eq(column: &str, value: Value) -> Self {
        Self::new(column, Function::Eq, value)
    }

    /// `column includes value`.
    pub fn includes(column: &str, value: Value) -> Self {
        Self::new(column, Function::Includes, value)
    }

    /// Any function.
    pub fn new(column: &str, function: Function, value: Value) -> Self {
        Self {
            column: column.to_owned(),
            function,
            value,
        }
    }

    fn to_json(&self) -> Value {
        json!([self.column, self.function.as_str(), self.value])
    }
}

/// A mutation's mutator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutator {
    /// `+=`.
    Add,
    /// `-=`.
    Sub,
    /// `insert` (into a set or map).
    Insert,
    /// `delete` (from a set or map).
    Delete,
}

impl Mutator {
    fn as_str(self) -> &'static str {
        match self {
            Self::Add => "+=",
            Self::Sub => "-=",
            Self::Insert => "insert",
            Self::Delete => "delete",
        }
    }
}

/// `[column, mutator, value]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Mutation {
    /// The column.
    pub column: String,
    /// The mutator.
    pub mutator: Mutator,
    /// The value, in OVSDB notation.
    pub value: Value,
}

impl Mutation {
    /// A mutation.
    pub fn new(column: &str, mutator: Mutator, value: Value) -> Self {
        Self {
            column: column.to_owned(),
            mutator,
            value,
        }
    }
}

/// `wait`'s `until`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    /// Wait until the selected rows equal `rows`.
    Eq,
    /// Wait until they differ.
    Ne,
}

/// One operation of a transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum Operation {
    /// Inserts a row; `uuid_name` lets later operations of the transaction refer to it as
    /// `["named-uuid", name]`.
    Insert {
        /// Table.
        table: String,
        /// Columns.
        row: Map<String, Value>,
        /// The row's name within the transaction.
        uuid_name: Option<String>,
    },
    /// Selects rows.
    Select {
        /// Table.
        table: String,
        /// Conditions, all of which must hold.
        conditions: Vec<Condition>,
        /// The columns to return (all when `None`).
        columns: Option<Vec<String>>,
    },
    /// Updates the selected rows.
    Update {
        /// Table.
        table: String,
        /// Conditions.
        conditions: Vec<Condition>,
        /// New column values.
        row: Map<String, Value>,
    },
    /// Mutates the selected rows.
    Mutate {
        /// Table.
        table: String,
        /// Conditions.
        conditions: Vec<Condition>,
        /// Mutations.
        mutations: Vec<Mutation>,
    },
    /// Deletes the selected rows.
    Delete {
        /// Table.
        table: String,
        /// Conditions.
        conditions: Vec<Condition>,
    },
    /// Waits (server-side, up to `timeout_ms`; forever when `None`) until the selected rows'
    /// `columns` equal, or differ from, `rows`; the transaction fails with `timed out`
    /// otherwise. A guard: `Until::Eq` with one expected row asserts it exists.
    Wait {
        /// Table.
        table: String,
        /// Conditions.
        conditions: Vec<Condition>,
        /// The columns compared.
        columns: Vec<String>,
        /// Eq or Ne.
        until: Until,
        /// The expected rows (the compared columns only).
        rows: Vec<Map<String, Value>>,
        /// Milliseconds.
        timeout_ms: Option<u64>,
    },
    /// A comment for the server's log.
    Comment(String),
}

impl Operation {
    /// Its `op`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Insert { .. } => "insert",
            Self::Select { .. } => "select",
            Self::Update { .. } => "update",
            Self::Mutate { .. } => "mutate",
            Self::Delete { .. } => "delete",
            Self::Wait { .. } => "wait",
            Self::Comment(_) => "comment",
        }
    }

    /// How long the server may hold the transaction for this operation.
    pub(crate) fn wait_ms(&self) -> u64 {
        match self {
            Self::Wait { timeout_ms, .. } => timeout_ms.unwrap_or(0),
            _ => 0,
        }
    }

    /// The JSON the server takes.
    pub fn to_json(&self) -> Value {
        let conds = |c: &[Condition]| Value::Array(c.iter().map(Condition::to_json).collect());
        match self {
            Self::Insert {
                table,
                row,
                uuid_name,
            } => {
                let mut o = json!({"op": "insert", "table": table, "row": row});
                if let Some(n) = uuid_name {
                    o["uuid-name"] = json!(n);
                }
                o
            }
            Self::Select {
                table,
                conditions,
                columns,
            } => {
                let mut o = json!({"op": "select", "table": table, "where": conds(conditions)});
                if let Some(c) = columns {
                    o["columns"] = json!(c);
                }
                o
            }
            Self::Update {
                table,
                conditions,
                row,
            } => {
                json!({"op": "update", "table": table, "where": conds(conditions), "row": row})
            }
            Self::Mutate {
                table,
                conditions,
                mutations,
            } => json!({
                "op": "mutate", "table": table, "where": conds(conditions),
                "mutations": mutations.iter().map(|m| json!([m.column, m.mutator.as_str(), m.value])).collect::<Vec<_>>()
            }),
            Self::Delete { table, conditions } => {
                json!({"op": "delete", "table": table, "where": conds(conditions)})
            }
            Self::Wait {
                table,
                conditions,
                columns,
                until,
                rows,
                timeout_ms,
            } => {
                let mut o = json!({
                    "op": "wait", "table": table, "where": conds(conditions), "columns": columns,
                    "until": match until { Until::Eq => "==", Until::Ne => "!=" }, "rows": rows
                });
                if let Some(t) = timeout_ms {
                    o["timeout"] = json!(t);
                }
                o
            }
            Self::Comment(c) => json!({"op": "comment", "comment": c}),
        }
    }
}

/// A row from `(column, value)` pairs.
pub fn row<'a>(columns: impl IntoIterator<Item = (&'a str, Value)>) -> Map<String, Value> {
    columns
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_encode_as_rfc_7047_says() {
        let ins = Operation::Insert {
            table: "Port".into(),
            row: row([("name", json!("p1"))]),
            uuid_name: Some("p".into()),
        };
        assert_eq!(
            ins.to_json(),
            json!({"op": "insert", "table": "Port", "row": {"name": "p1"}, "uuid-name": "p"})
        );
        let wait = Operation::Wait {
            table: "Logical_Switch".into(),
            conditions: vec![Condition::eq("name", json!("ls0"))],
            columns: vec!["name".into()],
            until: Until::Eq,
            rows: vec![row([("name", json!("ls0"))])],
            timeout_ms: Some(0),
        };
        assert_eq!(
            wait.to_json(),
            json!({"op": "wait", "table": "Logical_Switch", "where": [["name", "==", "ls0"]],
                   "columns": ["name"], "until": "==", "rows": [{"name": "ls0"}], "timeout": 0})
        );
        let m = Operation::Mutate {
            table: "Bridge".into(),
            conditions: vec![Condition::includes("ports", json!(["uuid", "u"]))],
            mutations: vec![Mutation::new(
                "ports",
                Mutator::Delete,
                json!(["uuid", "u"]),
            )],
        };
        assert_eq!(
            m.to_json()["mutations"],
            json!([["ports", "delete", ["uuid", "u"]]])
        );
        assert_eq!(
            m.to_json()["where"],
            json!([["ports", "includes", ["uuid", "u"]]])
        );
    }
}
