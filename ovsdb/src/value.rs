//! OVSDB's value notation (RFC 7047 §5.1): `["set",[…]]`, `["map",[[k,v],…]]`,
//! `["uuid","…"]`, `["named-uuid","…"]`; a one-element set may be the atom alone.

use std::collections::BTreeMap;

use serde_json::{Value, json};

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

/// `["set", [...]]`.
pub fn set(items: impl IntoIterator<Item = Value>) -> Value {
    json!(["set", items.into_iter().collect::<Vec<_>>()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_sets_and_uuids_round_trip() {
        let m: BTreeMap<String, String> = [("a".to_owned(), "1".to_owned())].into();
        assert_eq!(decode_map(&map(&m)), m);
        assert_eq!(
            decode_set(&set([json!(1), json!(2)])),
            vec![json!(1), json!(2)]
        );
        assert_eq!(
            decode_set(&json!(["uuid", "u"])),
            vec![json!(["uuid", "u"])]
        );
        assert_eq!(decode_uuid(&uuid("u")), Some("u".to_owned()));
        assert_eq!(decode_optional(&json!(["set", []])), None);
        assert_eq!(decode_optional(&json!(5)), Some(json!(5)));
        assert_eq!(named("p"), json!(["named-uuid", "p"]));
    }
}
