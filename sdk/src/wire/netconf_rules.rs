//! The type of every NetConf key the plugin reads, checked on the JSON before it is decoded,
//! so that a wrong type, a section of the wrong JSON kind, an unknown enum value or an
//! out-of-range number is an error that names the key's path, what was given and what is
//! allowed, instead of a silent default. Unknown keys stay accepted (the CNI convention).

use serde_json::{Map, Value};

use super::netconf::{
    Engine, IfType, LogLevel, MAX_MTU, MAX_QUEUES, MIN_MTU, MemifMode, MemifRole, NetType,
    VhostMode, keys,
};

/// What a key must hold.
#[derive(Debug, Clone, Copy)]
pub enum Rule {
    /// A JSON string.
    String,
    /// A JSON boolean.
    Bool,
    /// An integer in `min..=max`.
    Integer {
        /// Smallest allowed.
        min: i64,
        /// Largest allowed.
        max: i64,
    },
    /// A JSON object.
    Object,
    /// An array of strings.
    Strings,
    /// An array of objects.
    Objects,
    /// One of these strings (or `""`, which the Go plugin writes for unset fields).
    OneOf(&'static [&'static str]),
}

/// A key that breaks its rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {given} is not {allowed}")]
pub struct RuleError {
    /// The key's path, dot-separated (`host.bridge.bridgeName`).
    pub path: String,
    /// What was given (the JSON kind and value, shortened).
    pub given: String,
    /// What is allowed.
    pub allowed: String,
}

/// The keys of a `host` or `container` section.
const SIDE: &[(&str, Rule)] = &[
    ("", Rule::Object),
    ("engine", Rule::OneOf(Engine::ALLOWED)),
    ("iftype", Rule::OneOf(IfType::ALLOWED)),
    ("netType", Rule::OneOf(NetType::ALLOWED)),
    ("memif", Rule::Object),
    ("memif.role", Rule::OneOf(MemifRole::ALLOWED)),
    ("memif.mode", Rule::OneOf(MemifMode::ALLOWED)),
    ("memif.socketfile", Rule::String),
    (
        "memif.queues",
        Rule::Integer {
            min: 1,
            max: MAX_QUEUES as i64,
        },
    ),
    ("vhost", Rule::Object),
    ("vhost.mode", Rule::OneOf(VhostMode::ALLOWED)),
    ("vhost.group", Rule::String),
    ("vhost.socketfile", Rule::String),
    (
        "vhost.queues",
        Rule::Integer {
            min: 1,
            max: MAX_QUEUES as i64,
        },
    ),
    ("bridge", Rule::Object),
    ("bridge.bridgeName", Rule::String),
    (
        "bridge.bridgeId",
        Rule::Integer {
            min: 0,
            max: u32::MAX as i64,
        },
    ),
    // 0 is what the Go plugin writes when no VLAN is set.
    ("bridge.vlanId", Rule::Integer { min: 0, max: 4094 }),
];

/// The top-level keys (the CNI spec's and this plugin's).
const TOP: &[(&str, Rule)] = &[
    ("cniVersion", Rule::String),
    ("cniVersions", Rule::Strings),
    ("name", Rule::String),
    ("type", Rule::String),
    ("ipam", Rule::Object),
    ("ipam.type", Rule::String),
    ("prevResult", Rule::Object),
    ("runtimeConfig", Rule::Object),
    ("runtimeConfig.CNIDeviceInfoFile", Rule::String),
    ("runtimeConfig.mac", Rule::String),
    ("kubeconfig", Rule::String),
    ("sharedDir", Rule::String),
    ("logFile", Rule::String),
    (
        "mtu",
        Rule::Integer {
            min: MIN_MTU as i64,
            max: MAX_MTU as i64,
        },
    ),
    ("logLevel", Rule::OneOf(LogLevel::ALLOWED)),
    ("disableCheck", Rule::Bool),
    ("disableGC", Rule::Bool),
    ("cni.dev/valid-attachments", Rule::Objects),
    ("cni.dev/attachments", Rule::Objects),
    (keys::OVSDB, Rule::String),
    (keys::VPP_SOCKET, Rule::String),
    (keys::STATE_DIR, Rule::String),
    (keys::ALLOWED_SHARED_ROOTS, Rule::Strings),
    (keys::KUBELET_ROOT, Rule::String),
    (keys::ALIAS_ROOT, Rule::String),
    ("ovn", Rule::Object),
    ("ovn.logicalSwitch", Rule::String),
    ("ovn.northbound", Rule::String),
    ("ovn.northboundTls", Rule::Object),
    ("ovn.northboundTls.privateKey", Rule::String),
    ("ovn.northboundTls.certificate", Rule::String),
    ("ovn.northboundTls.caCert", Rule::String),
    ("ovn.integrationBridge", Rule::String),
    ("ovn.createSwitch", Rule::Bool),
    ("ovn.subnet", Rule::String),
    (
        "ovn.installTimeoutSeconds",
        Rule::Integer { min: 1, max: 600 },
    ),
    ("ovn.chassis", Rule::String),
];

/// Checks every known key of a NetConf that is a JSON object; the first broken rule is the
/// error. Keys are visited in the tables' order, so a section's own kind is checked before
/// its keys.
pub fn check(conf: &Map<String, Value>) -> Result<(), RuleError> {
    for (path, rule) in TOP {
        check_path(conf, path, *rule)?;
    }
    for side in ["host", "container"] {
        for (key, rule) in SIDE {
            let path = if key.is_empty() {
                side.to_owned()
            } else {
                format!("{side}.{key}")
            };
            check_path(conf, &path, *rule)?;
        }
    }
    Ok(())
}

/// The value at a dot path, descending only through objects (a non-object on the way is
/// reported by that section's own rule). A key may itself contain dots (`cni.dev/…`): a
/// top-level key that matches the whole path wins.
fn lookup<'a>(conf: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    if let Some(v) = conf.get(path) {
        return Some(v);
    }
    let (head, rest) = path.split_once('.')?;
    match conf.get(head)? {
        Value::Object(m) => lookup(m, rest),
        _ => None,
    }
}

fn check_path(conf: &Map<String, Value>, path: &str, rule: Rule) -> Result<(), RuleError> {
    match lookup(conf, path) {
        None | Some(Value::Null) => Ok(()),
        Some(v) => check_value(v, rule).map_err(|allowed| RuleError {
            path: path.to_owned(),
            given: describe(v),
            allowed,
        }),
    }
}

fn check_value(v: &Value, rule: Rule) -> Result<(), String> {
    let ok = match (rule, v) {
        (Rule::String, Value::String(_))
        | (Rule::Bool, Value::Bool(_))
        | (Rule::Object, Value::Object(_)) => true,
        (Rule::Strings, Value::Array(a)) => a.iter().all(Value::is_string),
        (Rule::Objects, Value::Array(a)) => a.iter().all(Value::is_object),
        (Rule::Integer { min, max }, Value::Number(n)) => {
            n.as_i64().is_some_and(|i| (min..=max).contains(&i))
        }
        (Rule::OneOf(allowed), Value::String(s)) => s.is_empty() || allowed.contains(&s.as_str()),
        _ => false,
    };
    if ok {
        return Ok(());
    }
    Err(match rule {
        Rule::String => "a string".to_owned(),
        Rule::Bool => "a boolean (true or false)".to_owned(),
        Rule::Object => "an object".to_owned(),
        Rule::Strings => "an array of strings".to_owned(),
        Rule::Objects => "an array of objects".to_owned(),
        Rule::Integer { min, max } => format!("an integer from {min} to {max}"),
        Rule::OneOf(allowed) => format!("one of {}", allowed.join(", ")),
    })
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

/// The spec's rule for network names: a letter or digit, then letters, digits, `_`, `.`, `-`.
pub fn check_name(name: &str) -> Result<(), RuleError> {
    let mut bytes = name.bytes();
    let ok = bytes.next().is_some_and(|b| b.is_ascii_alphanumeric())
        && bytes.all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(RuleError {
            path: "name".into(),
            given: describe(&Value::String(name.to_owned())),
            allowed: "a network name: a letter or digit, then letters, digits, '_', '.' or '-'"
                .into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn err(v: Value) -> RuleError {
        check(v.as_object().unwrap()).unwrap_err()
    }

    #[test]
    fn a_socket_of_the_wrong_type_is_named_with_what_was_given() {
        let e = err(json!({"ovsdbSocket": 5}));
        assert_eq!(e.to_string(), "ovsdbSocket: a number 5 is not a string");
        assert_eq!(err(json!({"vppApiSocket": []})).path, "vppApiSocket");
    }

    #[test]
    fn ipam_given_as_a_string_is_refused() {
        let e = err(json!({"ipam": "host-local"}));
        assert_eq!(
            e.to_string(),
            "ipam: the string \"host-local\" is not an object"
        );
    }

    #[test]
    fn sections_given_as_arrays_are_refused_with_their_path() {
        assert_eq!(err(json!({"host": []})).path, "host");
        assert_eq!(err(json!({"host": {"bridge": []}})).path, "host.bridge");
        assert_eq!(err(json!({"host": {"vhost": [1]}})).path, "host.vhost");
    }

    #[test]
    fn unknown_enum_values_and_numbers_out_of_range_list_what_is_allowed() {
        let e = err(json!({"host": {"engine": "ovs"}}));
        assert_eq!(
            e.to_string(),
            "host.engine: the string \"ovs\" is not one of ovs-dpdk, vpp, ovn"
        );
        let e = err(json!({"container": {"bridge": {"vlanId": 5000}}}));
        assert_eq!(
            e.to_string(),
            "container.bridge.vlanId: a number 5000 is not an integer from 0 to 4094"
        );
    }

    #[test]
    fn queues_mtu_and_the_mac_capability_are_typed_and_bounded() {
        for (bad, msg) in [
            (
                json!({"host": {"vhost": {"queues": 17}}}),
                "host.vhost.queues: a number 17 is not an integer from 1 to 16",
            ),
            (
                json!({"container": {"memif": {"queues": 0}}}),
                "container.memif.queues: a number 0 is not an integer from 1 to 16",
            ),
            (
                json!({"host": {"vhost": {"queues": "2"}}}),
                "host.vhost.queues: the string \"2\" is not an integer from 1 to 16",
            ),
            (
                json!({"mtu": 9217}),
                "mtu: a number 9217 is not an integer from 68 to 9216",
            ),
            (
                json!({"mtu": 1500.5}),
                "mtu: a number 1500.5 is not an integer from 68 to 9216",
            ),
            (
                json!({"runtimeConfig": {"mac": 1}}),
                "runtimeConfig.mac: a number 1 is not a string",
            ),
        ] {
            assert_eq!(err(bad).to_string(), msg);
        }
        let ok = json!({"mtu": 9000, "host": {"vhost": {"queues": 16}, "memif": {"queues": 1}}});
        assert_eq!(check(ok.as_object().unwrap()), Ok(()));
    }

    #[test]
    fn unknown_keys_empty_enums_and_dotted_keys_are_accepted() {
        let ok = json!({"somethingElse": [1], "host": {"engine": "", "future": 1},
                        "cni.dev/valid-attachments": [{"containerID": "a", "ifname": "b"}]});
        assert_eq!(check(ok.as_object().unwrap()), Ok(()));
        assert_eq!(
            err(json!({"cni.dev/valid-attachments": {}})).path,
            "cni.dev/valid-attachments"
        );
    }

    #[test]
    fn network_names_follow_the_spec() {
        for good in ["userspace-ovs", "net1", "a.b_c-d", "0net"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in ["", "-net", "a/b", "a b", ".x"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }
}
