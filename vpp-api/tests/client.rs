//! The client against the fake VPP: handshake, lookups by name_crc, dumps, errors, reconnect.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use vpp_api::fake::{FakeVpp, State};
use vpp_api::messages::l2::*;
use vpp_api::messages::memif::*;
use vpp_api::{Client, Retval, VppError};

const T: Duration = Duration::from_secs(2);

fn fake() -> (tempfile::TempDir, FakeVpp) {
    let dir = tempfile::tempdir().unwrap();
    let vpp = FakeVpp::start(dir.path().join("api.sock")).unwrap();
    (dir, vpp)
}

#[test]
fn the_handshake_gives_the_message_table_and_show_version_works() {
    let (_d, vpp) = fake();
    let mut c = Client::connect(vpp.path(), "test", T).unwrap();
    assert_eq!(c.show_version().unwrap(), "v25.10-release");
    assert_eq!(vpp.state().log, ["sockclnt_create", "show_version"]);
}

#[test]
fn a_dump_collects_details_until_the_control_ping_reply() {
    let (_d, vpp) = fake();
    let mut c = Client::connect(vpp.path(), "test", T).unwrap();
    let socks = c.dump(&MemifSocketFilenameDump {}).unwrap();
    assert_eq!(socks.len(), 1);
    assert_eq!(socks[0].socket_id, 0);
    assert_eq!(socks[0].socket_filename.0, "/run/vpp/memif.sock");
    assert_eq!(
        vpp.state().log,
        [
            "sockclnt_create",
            "memif_socket_filename_dump",
            "control_ping"
        ]
    );
}

#[test]
fn a_changed_crc_names_the_message_both_crcs_and_the_vpp_version() {
    let dir = tempfile::tempdir().unwrap();
    let mut st = State::default();
    st.crc_overrides.insert("memif_create_v2", "deadbeef");
    st.version = "v24.02-release".into();
    let vpp = FakeVpp::start_with(dir.path().join("api.sock"), st).unwrap();
    let mut c = Client::connect(vpp.path(), "test", T).unwrap();
    let e = c.request(&MemifCreateV2::default()).unwrap_err();
    assert!(matches!(e, VppError::CrcMismatch { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains("memif_create_v2"), "{msg}");
    assert!(
        msg.contains("deadbeef") && msg.contains("8c7de5f7"),
        "{msg}"
    );
    assert!(msg.contains("v24.02-release"), "{msg}");
    // Nothing was sent that VPP would misread.
    assert!(!vpp.state().log.iter().any(|m| m == "memif_create_v2"));
}

#[test]
fn a_missing_message_says_the_plugin_may_not_be_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let mut st = State::default();
    st.absent.push("memif_dump");
    let vpp = FakeVpp::start_with(dir.path().join("api.sock"), st).unwrap();
    let mut c = Client::connect(vpp.path(), "test", T).unwrap();
    let e = c.dump(&MemifDump {}).unwrap_err();
    assert!(matches!(e, VppError::Unsupported { .. }), "{e:?}");
    assert!(e.to_string().contains("plugin"), "{e}");
}

#[test]
fn a_negative_retval_is_an_error_with_its_name() {
    let (_d, vpp) = fake();
    let mut c = Client::connect(vpp.path(), "test", T).unwrap();
    let e = c
        .request(&BridgeDomainAddDelV2 {
            bd_id: 0,
            is_add: true,
            ..Default::default()
        })
        .unwrap_err();
    assert!(e.is_retval(Retval::BdNotModifiable), "{e:?}");
    assert!(e.to_string().contains("BD_NOT_MODIFIABLE"), "{e}");
}

#[test]
fn an_absent_socket_is_a_transient_connect_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("api.sock");
    let e = Client::connect(&path, "test", T).unwrap_err();
    assert!(e.is_transient());
    assert!(e.to_string().contains(path.to_str().unwrap()), "{e}");
}

#[test]
fn connect_wait_waits_for_vpp_to_come_up() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("api.sock");
    // A VPP still starting: it accepts the first attempt and closes it unanswered; only
    // once the client has been turned away does the real server come up.
    let starting = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let p2 = path.clone();
    let starter = std::thread::spawn(move || {
        let (first, _) = starting.accept().unwrap();
        drop(first);
        drop(starting);
        FakeVpp::start(p2).unwrap()
    });
    let mut c = Client::connect_wait(&path, "test", T, Duration::from_secs(5)).unwrap();
    let vpp = starter.join().unwrap();
    c.ping().unwrap();
    assert_eq!(vpp.state().log, ["sockclnt_create", "control_ping"]);
}

#[test]
fn after_vpp_restarts_the_next_call_reconnects_with_a_fresh_table() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("api.sock");
    let vpp = FakeVpp::start(&path).unwrap();
    let mut c = Client::connect(&path, "test", T).unwrap();
    c.ping().unwrap();
    drop(vpp);
    let e = c.ping().unwrap_err();
    assert!(e.is_transient(), "{e:?}");
    let vpp = FakeVpp::start(&path).unwrap();
    c.ping().unwrap();
    assert_eq!(vpp.state().log, ["sockclnt_create", "control_ping"]);
}

#[test]
fn no_reply_within_the_timeout_is_a_timeout_naming_the_request() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("api.sock");
    // A server that accepts and never answers.
    let _silent = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let e = Client::connect(&path, "test", Duration::from_millis(300)).unwrap_err();
    assert!(matches!(e, VppError::Timeout { .. }), "{e:?}");
    assert!(e.to_string().contains("sockclnt_create"), "{e}");
}

#[test]
fn cli_inband_returns_the_cli_output() {
    let (_d, vpp) = fake();
    let mut c = Client::connect(vpp.path(), "test", T).unwrap();
    let out = c.cli("show version").unwrap();
    assert!(out.contains("v25.10-release"), "{out}");
}
