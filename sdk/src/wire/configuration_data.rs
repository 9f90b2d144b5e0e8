//! The `userspace/configuration-data` pod annotation (a JSON array, one entry per interface)
//! and its single-entry file form `configData-<id12>-<ifname>.json`.

use serde::{Deserialize, Serialize};

use super::cni_result::CniResult;
use super::netconf::UserspaceConf;

/// Annotation with the per-interface configuration.
pub const CONFIGURATION_DATA_ANNOTATION: &str = "userspace/configuration-data";
/// Annotation with the `mountPath` of the pod's `shared-dir` volume.
pub const MAPPED_DIR_ANNOTATION: &str = "userspace/mapped-dir";

/// One interface's entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigurationData {
    /// The pod sandbox ID.
    pub container_id: String,
    /// Interface name in the pod.
    pub if_name: String,
    /// Network name.
    #[serde(default)]
    pub name: String,
    /// The container side's configuration (defaults applied).
    pub config: UserspaceConf,
    /// The IPAM result (CNI 0.4.0 or 1.x shape).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_result: Option<CniResult>,
}

/// Malformed configuration data.
#[derive(Debug, thiserror::Error)]
#[error("configuration data")]
pub struct ConfigurationDataError(#[from] serde_json::Error);

/// Parses the annotation's value (an array; `""` or `null` is an empty list).
pub fn parse_configuration_data(
    json: &str,
) -> Result<Vec<ConfigurationData>, ConfigurationDataError> {
    let t = json.trim();
    if t.is_empty() || t == "null" {
        return Ok(Vec::new());
    }
    Ok(serde_json::from_str(t)?)
}

impl ConfigurationData {
    /// Reads a `configData-*.json` file: one object, or an array of them.
    pub fn from_file_json(json: &str) -> Result<Vec<ConfigurationData>, ConfigurationDataError> {
        let t = json.trim_start();
        if t.starts_with('[') {
            parse_configuration_data(t)
        } else {
            Ok(vec![serde_json::from_str(t)?])
        }
    }
}

/// Replaces the entry of the same (container, interface), or appends: merging one entry at a
/// time is what keeps concurrent ADDs of one pod from losing each other's entries.
pub fn merge_entry(list: &mut Vec<ConfigurationData>, entry: ConfigurationData) {
    match list
        .iter_mut()
        .find(|e| e.container_id == entry.container_id && e.if_name == entry.if_name)
    {
        Some(slot) => *slot = entry,
        None => list.push(entry),
    }
}

/// Removes the entry of (container, interface); returns whether there was one.
pub fn remove_entry(list: &mut Vec<ConfigurationData>, container_id: &str, if_name: &str) -> bool {
    let before = list.len();
    list.retain(|e| !(e.container_id == container_id && e.if_name == if_name));
    list.len() != before
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{IfType, VhostMode};
    use serde_json::Value;

    const GO_0_4: &str = include_str!("../../tests/fixtures/wire/configuration-data-0.4.0.json");
    const V1_0: &str = include_str!("../../tests/fixtures/wire/configuration-data-1.0.0.json");

    #[test]
    fn the_go_plugins_cni_0_4_shape_round_trips() {
        let list = parse_configuration_data(GO_0_4).unwrap();
        assert_eq!(
            serde_json::to_value(&list).unwrap(),
            serde_json::from_str::<Value>(GO_0_4).unwrap()
        );
        assert_eq!(list[0].config.iftype, Some(IfType::Vhostuser));
        assert_eq!(
            list[0].config.vhost.as_ref().unwrap().mode,
            Some(VhostMode::Server)
        );
        assert_eq!(
            list[0].ip_result.as_ref().unwrap().ips[0]
                .version
                .as_deref(),
            Some("4")
        );
    }

    #[test]
    fn the_cni_1_0_shape_without_ip_versions_round_trips() {
        let list = parse_configuration_data(V1_0).unwrap();
        assert_eq!(
            serde_json::to_value(&list).unwrap(),
            serde_json::from_str::<Value>(V1_0).unwrap()
        );
        assert_eq!(list.len(), 2);
        assert!(list[1].ip_result.as_ref().unwrap().ips[0].version.is_none());
    }

    #[test]
    fn a_file_holds_one_object_or_an_array() {
        let list = parse_configuration_data(V1_0).unwrap();
        let one = serde_json::to_string(&list[0]).unwrap();
        assert_eq!(
            ConfigurationData::from_file_json(&one).unwrap(),
            vec![list[0].clone()]
        );
        assert_eq!(ConfigurationData::from_file_json(V1_0).unwrap().len(), 2);
    }

    #[test]
    fn merging_replaces_the_same_interface_and_appends_others() {
        let mut list = parse_configuration_data(V1_0).unwrap();
        let mut e = list[0].clone();
        e.name = "renamed".into();
        merge_entry(&mut list, e);
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].name, "renamed");
        let mut f = list[0].clone();
        f.if_name = "net9".into();
        merge_entry(&mut list, f);
        assert_eq!(list.len(), 3);
        let id = list[2].container_id.clone();
        assert!(remove_entry(&mut list, &id, "net9"));
        assert_eq!(list.len(), 2);
    }

    #[test]
    fn an_empty_annotation_is_an_empty_list() {
        assert!(parse_configuration_data("").unwrap().is_empty());
        assert!(parse_configuration_data("null").unwrap().is_empty());
        assert!(parse_configuration_data("[{").is_err());
    }
}
