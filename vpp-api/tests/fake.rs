//! The fake VPP behaves as VPP 25.10-release where that was checked: addresses, socket id
//! picks, a restart, and messages it does not model.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use vpp_api::codec::Prefix;
use vpp_api::fake::{FIRST_PICKED_SOCKET_ID, FakeVpp};
use vpp_api::frame::frame;
use vpp_api::message::{self, Header};
use vpp_api::messages::interface::*;
use vpp_api::messages::ip::*;
use vpp_api::messages::memif::*;
use vpp_api::{Client, Retval};

const T: Duration = Duration::from_secs(2);

fn fake() -> (tempfile::TempDir, FakeVpp, Client) {
    let dir = tempfile::tempdir().unwrap();
    let vpp = FakeVpp::start(dir.path().join("api.sock")).unwrap();
    let c = Client::connect(vpp.path(), "test", T).unwrap();
    (dir, vpp, c)
}

fn socket(c: &mut Client, file: &str) -> u32 {
    c.request(&MemifSocketFilenameAddDelV2 {
        is_add: true,
        socket_id: PICK_SOCKET_ID,
        socket_filename: file.into(),
    })
    .unwrap()
    .socket_id
}

fn memif(c: &mut Client, socket_id: u32) -> u32 {
    c.request(&MemifCreateV2 {
        role: MemifRole::SLAVE,
        socket_id,
        ..MemifCreateV2::default()
    })
    .unwrap()
    .sw_if_index
}

fn address(sw_if_index: u32, is_add: bool) -> SwInterfaceAddDelAddress {
    SwInterfaceAddDelAddress {
        sw_if_index,
        is_add,
        del_all: false,
        prefix: Prefix::new("10.56.217.2".parse().unwrap(), 24),
    }
}

#[test]
fn re_adding_an_address_the_interface_has_is_address_in_use() {
    let (_d, _vpp, mut c) = fake();
    let sw = memif(&mut c, 0);
    c.request(&address(sw, true)).unwrap();
    let e = c.request(&address(sw, true)).unwrap_err();
    assert!(e.is_retval(Retval::AddressInUse), "{e:?}");
    assert_eq!(Retval::AddressInUse.code(), -105);
}

#[test]
fn deleting_an_address_the_interface_lacks_is_address_not_found_for_interface() {
    let (_d, _vpp, mut c) = fake();
    let sw = memif(&mut c, 0);
    let e = c.request(&address(sw, false)).unwrap_err();
    assert!(e.is_retval(Retval::AddressNotFoundForInterface), "{e:?}");
    assert_eq!(Retval::AddressNotFoundForInterface.code(), -60);
}

#[test]
fn the_address_dump_lists_an_interfaces_addresses_of_one_family() {
    let (_d, _vpp, mut c) = fake();
    let sw = memif(&mut c, 0);
    c.request(&address(sw, true)).unwrap();
    let v4 = c
        .dump(&IpAddressDump {
            sw_if_index: sw,
            is_ipv6: false,
        })
        .unwrap();
    assert_eq!(v4.len(), 1);
    assert_eq!(v4[0].prefix.to_string(), "10.56.217.2/24");
    let v6 = c
        .dump(&IpAddressDump {
            sw_if_index: sw,
            is_ipv6: true,
        })
        .unwrap();
    assert!(v6.is_empty());
}

#[test]
fn the_route_dump_lists_the_default_drop_route_until_one_replaces_it() {
    let (_d, _vpp, mut c) = fake();
    let dump = |c: &mut Client| {
        c.dump(&IpRouteDump {
            table: IpTable::default(),
        })
        .unwrap()
    };
    let before = dump(&mut c);
    assert_eq!(before.len(), 1);
    assert_eq!(before[0].route.paths[0].r#type, FibPathType::DROP);
    let sw = memif(&mut c, 0);
    let via = FibPath {
        sw_if_index: sw,
        weight: 1,
        ..FibPath::default()
    };
    let add = IpRouteAddDel {
        is_add: true,
        is_multipath: false,
        route: IpRoute {
            prefix: Prefix::new("0.0.0.0".parse().unwrap(), 0),
            paths: vec![via.clone()].into(),
            ..IpRoute::default()
        },
    };
    c.request(&add).unwrap();
    c.request(&add).unwrap();
    let after = dump(&mut c);
    assert_eq!(after.len(), 1, "added twice, one route: {after:?}");
    assert_eq!(after[0].route.paths.0, [via]);
}

#[test]
fn a_picked_socket_id_is_large_and_follows_a_fixed_sequence() {
    let (_d, _vpp, mut c) = fake();
    let first = socket(&mut c, "/run/a.sock");
    let second = socket(&mut c, "/run/b.sock");
    assert_eq!(first, FIRST_PICKED_SOCKET_ID);
    assert_eq!(first, 1_013_904_223);
    assert_eq!(second, 1_196_435_762);
}

#[test]
fn after_a_restart_vpp_hands_out_the_same_socket_ids_and_sw_if_indexes_again() {
    let (_d, vpp, mut c) = fake();
    let before = (socket(&mut c, "/run/x.sock"), memif(&mut c, 0));
    vpp.restart();
    assert!(c.ping().unwrap_err().is_transient(), "the session is gone");
    let after = (socket(&mut c, "/run/y.sock"), memif(&mut c, 0));
    assert_eq!(before, after);
    let st = vpp.state();
    assert_eq!(st.interfaces.len(), 2, "local0 and the new memif only");
    assert_eq!(st.sockets.len(), 2, "the built-in socket and the new one");
}

#[test]
fn a_restart_keeps_the_tests_configuration_of_vpp() {
    let dir = tempfile::tempdir().unwrap();
    let mut st = vpp_api::fake::State::default();
    st.version = "v26.02-release".into();
    let vpp = FakeVpp::start_with(dir.path().join("api.sock"), st).unwrap();
    vpp.restart();
    let mut c = Client::connect(vpp.path(), "test", T).unwrap();
    assert_eq!(c.show_version().unwrap(), "v26.02-release");
}

#[test]
fn a_message_the_fake_does_not_model_is_recorded_and_fails_the_test_that_sent_it() {
    let dir = tempfile::tempdir().unwrap();
    let vpp = FakeVpp::start(dir.path().join("api.sock")).unwrap();
    // A client that sends an id from outside the table VPP handed out.
    let handle = 0x8000_0001;
    let mut raw = UnixStream::connect(vpp.path()).unwrap();
    let hello = message::encode(
        Header {
            id: vpp_api::messages::memclnt::SOCKCLNT_CREATE_ID,
            ..Header::default()
        },
        &vpp_api::messages::memclnt::SockclntCreate::default(),
    );
    raw.write_all(&frame(&hello)).unwrap();
    let unknown = message::encode(
        Header {
            id: 4000,
            client_index: handle,
            context: 7,
        },
        &vpp_api::messages::memclnt::ControlPing {},
    );
    raw.write_all(&frame(&unknown)).unwrap();
    let deadline = std::time::Instant::now() + T;
    while vpp.state().unmodelled.is_empty() {
        assert!(std::time::Instant::now() < deadline, "never recorded");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(
        vpp.state().unmodelled,
        ["message id 4000 (not in the table it handed out)"]
    );
    let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(vpp)));
    let msg = dropped.unwrap_err();
    let msg = msg.downcast_ref::<String>().unwrap();
    assert!(msg.contains("message id 4000"), "{msg}");
}

fn code(e: vpp_api::VppError) -> Option<i32> {
    e.retval()
}

#[test]
fn loopbacks_take_the_lowest_free_instance_and_a_new_sw_if_index_each_time() {
    let (_d, vpp, mut c) = fake();
    let a = c.request(&CreateLoopback::default()).unwrap().sw_if_index;
    let b = c.request(&CreateLoopback::default()).unwrap().sw_if_index;
    assert_eq!((a, b), (1, 2));
    c.request(&DeleteLoopback { sw_if_index: a }).unwrap();
    let again = c.request(&CreateLoopback::default()).unwrap().sw_if_index;
    assert_eq!(again, 3, "a new sw_if_index");
    {
        let st = vpp.state();
        assert_eq!(
            st.interfaces[&again].name, "loop0",
            "instance 0 is free again"
        );
        assert_eq!(st.interfaces[&again].mac, [0xde, 0xad, 0, 0, 0, 0]);
        assert!(!st.interfaces[&again].admin_up);
    }
    // delete_loopback of something that is not a loopback (local0) is refused.
    let e = c.request(&DeleteLoopback { sw_if_index: 0 }).unwrap_err();
    assert_eq!(code(e), Some(Retval::InvalidSwIfIndex.code()));
}

#[test]
fn unnumbered_borrows_an_interfaces_addresses_and_the_dump_lists_it() {
    let (_d, vpp, mut c) = fake();
    let lo = c.request(&CreateLoopback::default()).unwrap().sw_if_index;
    let m = memif(&mut c, 0);
    let set = |sw, un, is_add| SwInterfaceSetUnnumbered {
        sw_if_index: sw,
        unnumbered_sw_if_index: un,
        is_add,
    };
    let e = c.request(&set(lo, 99, true)).unwrap_err();
    assert_eq!(code(e), Some(Retval::InvalidSwIfIndex.code()));
    let e = c.request(&set(99, m, true)).unwrap_err();
    assert_eq!(code(e), Some(Retval::InvalidSwIfIndex2.code()));
    c.request(&set(lo, m, true)).unwrap();
    assert_eq!(vpp.state().unnumbered_to(lo), [m]);
    let listed = c
        .dump(&IpUnnumberedDump {
            sw_if_index: u32::MAX,
        })
        .unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|d| (d.sw_if_index, d.ip_sw_if_index))
            .collect::<Vec<_>>(),
        [(m, lo)]
    );
    // A delete ignores sw_if_index, as VPP's does.
    c.request(&set(u32::MAX, m, false)).unwrap();
    assert!(vpp.state().unnumbered_to(lo).is_empty());
    // Deleting the interface with the address leaves its borrowers with none.
    c.request(&set(lo, m, true)).unwrap();
    c.request(&DeleteLoopback { sw_if_index: lo }).unwrap();
    assert_eq!(vpp.state().interfaces[&m].unnumbered, None);
}

#[test]
fn tags_show_in_the_interface_dump_and_an_empty_one_is_invalid() {
    let (_d, _vpp, mut c) = fake();
    let lo = c.request(&CreateLoopback::default()).unwrap().sw_if_index;
    let tag = |is_add, sw_if_index, t: &str| SwInterfaceTagAddDel {
        is_add,
        sw_if_index,
        tag: vpp_api::codec::FixedStr::new(t),
    };
    let e = c.request(&tag(true, lo, "")).unwrap_err();
    assert_eq!(code(e), Some(Retval::InvalidValue.code()));
    let e = c.request(&tag(true, 99, "x")).unwrap_err();
    assert_eq!(code(e), Some(Retval::InvalidSwIfIndex.code()));
    c.request(&tag(true, lo, "userspace-cni gw 10.0.0.1/24"))
        .unwrap();
    let dump = |c: &mut Client| {
        c.dump(&SwInterfaceDump {
            sw_if_index: u32::MAX,
            name_filter_valid: false,
            name_filter: String::new(),
        })
        .unwrap()
        .into_iter()
        .map(|d| (d.interface_name.0, d.tag.0))
        .collect::<Vec<_>>()
    };
    assert_eq!(
        dump(&mut c),
        [
            ("local0".to_owned(), String::new()),
            (
                "loop0".to_owned(),
                "userspace-cni gw 10.0.0.1/24".to_owned()
            )
        ]
    );
    c.request(&tag(false, lo, "")).unwrap();
    assert_eq!(dump(&mut c)[1].1, "");
}

#[test]
fn a_request_the_test_fails_gets_that_retval_once_and_changes_nothing() {
    let (_d, vpp, mut c) = fake();
    vpp.state()
        .fail
        .insert("create_loopback".into(), Retval::InvalidValue);
    let e = c.request(&CreateLoopback::default()).unwrap_err();
    assert_eq!(code(e), Some(Retval::InvalidValue.code()));
    assert!(vpp.state().loopbacks().is_empty());
    assert_eq!(
        c.request(&CreateLoopback::default()).unwrap().sw_if_index,
        1
    );
}

fn range(table_id: u32, is_add: bool) -> vpp_api::messages::arp::ProxyArpAddDel {
    vpp_api::messages::arp::ProxyArpAddDel {
        is_add,
        proxy: vpp_api::messages::arp::ProxyArp {
            table_id,
            low: [10, 56, 217, 1],
            hi: [10, 56, 217, 254],
        },
    }
}

#[test]
fn a_proxy_arp_range_is_kept_once_and_deleting_a_missing_one_is_no_such_entry() {
    use vpp_api::messages::arp::*;
    let (_d, vpp, mut c) = fake();
    c.request(&range(0, true)).unwrap();
    c.request(&range(0, true)).unwrap();
    assert_eq!(c.dump(&ProxyArpDump {}).unwrap().len(), 1);
    let e = c.request(&range(5, true)).unwrap_err();
    assert_eq!(code(e), Some(Retval::NoSuchFib.code()));
    c.request(&range(0, false)).unwrap();
    let e = c.request(&range(0, false)).unwrap_err();
    assert_eq!(code(e), Some(Retval::NoSuchEntry.code()));
    assert!(vpp.state().proxy_arps.is_empty());
}

#[test]
fn proxy_arp_on_an_interface_is_idempotent_and_outlives_the_interface_as_in_vpp() {
    use vpp_api::messages::arp::*;
    let (_d, vpp, mut c) = fake();
    let enable = |sw_if_index, enable| ProxyArpIntfcEnableDisable {
        sw_if_index,
        enable,
    };
    let e = c.request(&enable(99, true)).unwrap_err();
    assert_eq!(code(e), Some(Retval::InvalidSwIfIndex.code()));
    let m = memif(&mut c, 0);
    c.request(&enable(m, true)).unwrap();
    c.request(&enable(m, true)).unwrap();
    c.request(&enable(m, false)).unwrap();
    c.request(&enable(m, false)).unwrap();
    c.request(&enable(m, true)).unwrap();
    c.request(&MemifDelete { sw_if_index: m }).unwrap();
    let listed: Vec<u32> = c
        .dump(&ProxyArpIntfcDump {})
        .unwrap()
        .iter()
        .map(|d| d.sw_if_index)
        .collect();
    assert_eq!(
        listed,
        [m],
        "VPP does not clear the flag of a deleted interface"
    );
    assert!(vpp.state().proxy_arp_enabled.contains(&m));
}

#[test]
fn arp_is_answered_for_own_addresses_and_with_proxy_arp_for_a_range() {
    use vpp_api::messages::arp::*;
    let (_d, vpp, mut c) = fake();
    let lo = c.request(&CreateLoopback::default()).unwrap().sw_if_index;
    c.request(&SwInterfaceAddDelAddress {
        sw_if_index: lo,
        is_add: true,
        del_all: false,
        prefix: Prefix::new("10.56.217.1".parse().unwrap(), 24),
    })
    .unwrap();
    let m = memif(&mut c, 0);
    let gw = "10.56.217.1".parse().unwrap();
    let pod = "10.56.217.7".parse().unwrap();
    assert!(!vpp.state().answers_arp(m, gw), "not IP-enabled");
    c.request(&SwInterfaceSetUnnumbered {
        sw_if_index: lo,
        unnumbered_sw_if_index: m,
        is_add: true,
    })
    .unwrap();
    assert!(vpp.state().answers_arp(m, gw), "the borrowed address");
    assert!(!vpp.state().answers_arp(m, pod), "not local to the subnet");
    c.request(&range(0, true)).unwrap();
    assert!(
        !vpp.state().answers_arp(m, pod),
        "proxy ARP not enabled on it"
    );
    c.request(&ProxyArpIntfcEnableDisable {
        sw_if_index: m,
        enable: true,
    })
    .unwrap();
    assert!(vpp.state().answers_arp(m, pod));
    assert!(!vpp.state().answers_arp(m, "10.56.218.7".parse().unwrap()));
}
