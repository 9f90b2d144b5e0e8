//! Deserializers that enforce a NetConf key's JSON type and bounds while the NetConf is
//! decoded, so that one pass both types and checks it: a wrong type, a section of the wrong
//! JSON kind, an unknown enum value or an out-of-range number is refused (never read as a
//! silent default) with what was given and what is allowed. The key's path is prefixed by the
//! caller's `serde_path_to_error` ([`super::NetConf::from_slice`]).

use std::fmt::{self, Display};
use std::marker::PhantomData;
use std::str::FromStr;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use crate::mac::MacAddr;

/// A string enum of the wire, for the message that lists its allowed values.
pub trait WireEnum: FromStr {
    /// Every wire name.
    const WIRE_NAMES: &'static [&'static str];
}

/// A value as the messages name it: its kind and its text, cut at 40 bytes.
pub fn describe(v: &Value) -> String {
    let kind = match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "the string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    };
    let mut text = v.to_string();
    if text.len() > 40 {
        let cut = (0..=40)
            .rev()
            .find(|i| text.is_char_boundary(*i))
            .unwrap_or(0);
        text.truncate(cut);
        text.push('…');
    }
    format!("{kind} {text}")
}

/// The error for `given`, which is not what the key allows.
fn refuse<E: de::Error>(given: &Value, allowed: impl Display) -> E {
    E::custom(format_args!("{} is not {allowed}", describe(given)))
}

/// An optional string (`null` is absent).
pub fn string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s)),
        v => Err(refuse(&v, "a string")),
    }
}

/// A string that defaults to empty (`name`, `type`: their absence is reported by the caller,
/// which knows what the key is for).
pub fn string_or_empty<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    string(d).map(Option::unwrap_or_default)
}

/// A string that must be there (`cniVersion`).
pub fn required_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match Value::deserialize(d)? {
        Value::String(s) => Ok(s),
        v => Err(refuse(&v, "a string")),
    }
}

/// An optional boolean.
pub fn boolean<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        Value::Bool(b) => Ok(Some(b)),
        v => Err(refuse(&v, "a boolean (true or false)")),
    }
}

/// An optional array of strings.
pub fn strings<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        Value::Array(a) if a.iter().all(Value::is_string) => Ok(Some(
            a.into_iter()
                .filter_map(|s| match s {
                    Value::String(s) => Some(s),
                    _ => None,
                })
                .collect(),
        )),
        v => Err(refuse(&v, "an array of strings")),
    }
}

/// An optional object kept as JSON (`ipam`, `prevResult`: handed on as they are).
pub fn object<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        v @ Value::Object(_) => Ok(Some(v)),
        v => Err(refuse(&v, "an object")),
    }
}

/// Checks a key that must be an array of objects when present (keys kept among the unknown
/// ones, such as `cni.dev/valid-attachments`); the message names the key.
pub fn check_objects(key: &str, v: Option<&Value>) -> Result<(), String> {
    match v {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Array(a)) if a.iter().all(Value::is_object) => Ok(()),
        Some(v) => Err(format!("{key}: {} is not an array of objects", describe(v))),
    }
}

/// An optional integer in `min..=max`.
fn integer<'de, D, T>(d: D, min: i64, max: i64) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<i64>,
{
    let v = Value::deserialize(d)?;
    if v.is_null() {
        return Ok(None);
    }
    v.as_i64()
        .filter(|i| (min..=max).contains(i))
        .and_then(|i| T::try_from(i).ok())
        .map(Some)
        .ok_or_else(|| refuse(&v, format_args!("an integer from {min} to {max}")))
}

/// Queue pairs: 1 to [`super::netconf::MAX_QUEUES`].
pub fn queues<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u16>, D::Error> {
    integer(d, 1, super::netconf::MAX_QUEUES.into())
}

/// An MTU: [`super::netconf::MIN_MTU`] to [`super::netconf::MAX_MTU`].
pub fn mtu<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    integer(
        d,
        super::netconf::MIN_MTU.into(),
        super::netconf::MAX_MTU.into(),
    )
}

/// A VLAN id: 0 (what the Go plugin writes when no VLAN is set) to 4094.
pub fn vlan_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    integer(d, 0, super::netconf::MAX_VLAN.into())
}

/// The deprecated numeric bridge id: any `u32`.
pub fn bridge_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    integer(d, 0, u32::MAX.into())
}

/// OVN's install timeout: 1 to [`super::netconf::MAX_INSTALL_TIMEOUT_SECONDS`] seconds.
pub fn install_timeout<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    integer(d, 1, super::netconf::MAX_INSTALL_TIMEOUT_SECONDS.into())
}

/// An optional enum; `""` is absent too (the Go plugin writes empty strings for unset fields).
pub fn one_of<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: WireEnum,
{
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        Value::String(s) if s.is_empty() => Ok(None),
        v => v
            .as_str()
            .and_then(|s| s.parse().ok())
            .map(Some)
            .ok_or_else(|| refuse(&v, format_args!("one of {}", T::WIRE_NAMES.join(", ")))),
    }
}

/// An optional MAC (`""` is absent); a string that is no MAC says why.
pub fn mac<'de, D: Deserializer<'de>>(d: D) -> Result<Option<MacAddr>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        Value::String(s) if s.is_empty() => Ok(None),
        Value::String(s) => s.parse().map(Some).map_err(de::Error::custom),
        v => Err(refuse(&v, "a string")),
    }
}

/// An optional section (a JSON object decoded as `T`): anything else is refused by its kind,
/// so that an array is never read by position. The section's own keys are decoded from the
/// same map, so their paths stay whole.
pub fn section<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    d.deserialize_any(Section(PhantomData))
}

struct Section<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for Section<T> {
    type Value = Option<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        T::deserialize(de::value::MapAccessDeserializer::new(map)).map(Some)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        section(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        let v = Value::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
        Err(refuse(&v, "an object"))
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Self::Value, E> {
        Err(refuse(&Value::Bool(b), "an object"))
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Self::Value, E> {
        Err(refuse(&Value::from(n), "an object"))
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Self::Value, E> {
        Err(refuse(&Value::from(n), "an object"))
    }

    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Self::Value, E> {
        Err(refuse(&Value::from(n), "an object"))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
        Err(refuse(&Value::from(s), "an object"))
    }
}
