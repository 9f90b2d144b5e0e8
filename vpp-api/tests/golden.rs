//! Byte-level encodings checked against the layouts of VPP's `.api` files (offsets as the
//! packed C structs that vppapigen generates put them), independently of our decoder.
#![allow(clippy::unwrap_used)]

use vpp_api::codec::{Counted, FixedStr, Prefix};
use vpp_api::frame::frame;
use vpp_api::message::{self, Header, Message};
use vpp_api::messages::interface::*;
use vpp_api::messages::ip::*;
use vpp_api::messages::l2::*;
use vpp_api::messages::memclnt::*;
use vpp_api::messages::memif::*;
use vpp_api::messages::vhost_user::*;

fn req_header(id: u16, client_index: u32, context: u32) -> Header {
    Header {
        id,
        client_index,
        context,
    }
}

/// Writes big-endian `v` of `n` bytes at `off`.
fn put(buf: &mut [u8], off: usize, n: usize, v: u64) {
    let b = v.to_be_bytes();
    buf[off..off + n].copy_from_slice(&b[8 - n..]);
}

#[test]
fn sockclnt_create_has_no_client_index_and_a_64_byte_name() {
    let body = message::encode(
        Header {
            id: SOCKCLNT_CREATE_ID,
            ..Header::default()
        },
        &SockclntCreate {
            context: 0x11223344,
            name: FixedStr::new("userspace-cni"),
        },
    );
    let mut want = vec![0u8; 70];
    put(&mut want, 0, 2, 15);
    put(&mut want, 2, 4, 0x11223344);
    want[6..6 + 13].copy_from_slice(b"userspace-cni");
    assert_eq!(body, want);
    let framed = frame(&body);
    assert_eq!(&framed[8..12], &[0, 0, 0, 70]);
}

#[test]
fn sockclnt_create_reply_carries_context_at_offset_6_and_66_byte_table_entries() {
    let mut b = vec![0u8; 20 + 2 * 66];
    put(&mut b, 0, 2, 16);
    put(&mut b, 6, 4, 7); // context
    put(&mut b, 14, 4, 0x8000_0003); // index
    put(&mut b, 18, 2, 2); // count
    put(&mut b, 20, 2, 600);
    b[22..22 + 24].copy_from_slice(b"memif_create_v2_8c7de5f7");
    put(&mut b, 86, 2, 23);
    b[88..88 + 21].copy_from_slice(b"control_ping_51077d14");
    let (_, r) = message::decode::<SockclntCreateReply>(&b).unwrap();
    assert_eq!(r.context, 7);
    assert_eq!(r.index, 0x8000_0003);
    assert_eq!(r.message_table.len(), 2);
    assert_eq!(r.message_table[0].index, 600);
    assert_eq!(r.message_table[0].name.0, "memif_create_v2_8c7de5f7");
    assert_eq!(r.message_table[1].name.0, "control_ping_51077d14");
}

#[test]
fn memif_create_v2_is_66_bytes_with_fields_at_their_api_offsets() {
    let m = MemifCreateV2 {
        role: MemifRole::SLAVE,
        mode: MemifMode::IP,
        rx_queues: 1,
        tx_queues: 2,
        id: 0x0a0b0c0d,
        socket_id: 5,
        ring_size: 1024,
        buffer_size: 2048,
        no_zero_copy: true,
        use_dma: false,
        hw_addr: [0x02, 1, 2, 3, 4, 5],
        secret: FixedStr::new("s3cret"),
    };
    let body = message::encode(req_header(300, 0x8000_0001, 9), &m);
    let mut want = vec![0u8; 66];
    put(&mut want, 0, 2, 300);
    put(&mut want, 2, 4, 0x8000_0001);
    put(&mut want, 6, 4, 9);
    put(&mut want, 10, 4, 1); // role
    put(&mut want, 14, 4, 1); // mode
    want[18] = 1;
    want[19] = 2;
    put(&mut want, 20, 4, 0x0a0b0c0d);
    put(&mut want, 24, 4, 5);
    put(&mut want, 28, 4, 1024);
    put(&mut want, 32, 2, 2048);
    want[34] = 1;
    want[36..42].copy_from_slice(&[0x02, 1, 2, 3, 4, 5]);
    want[42..48].copy_from_slice(b"s3cret");
    assert_eq!(body, want);
    assert_eq!(MemifCreateV2::name_crc(), "memif_create_v2_8c7de5f7");
}

#[test]
fn memif_socket_filename_add_del_v2_ends_with_a_counted_string() {
    let body = message::encode(
        req_header(301, 1, 2),
        &MemifSocketFilenameAddDelV2 {
            is_add: true,
            socket_id: PICK_SOCKET_ID,
            socket_filename: "/run/a.sock".into(),
        },
    );
    let mut want = vec![0u8; 19 + 11];
    put(&mut want, 0, 2, 301);
    put(&mut want, 2, 4, 1);
    put(&mut want, 6, 4, 2);
    want[10] = 1;
    put(&mut want, 11, 4, 0xffff_ffff);
    put(&mut want, 15, 4, 11);
    want[19..].copy_from_slice(b"/run/a.sock");
    assert_eq!(body, want);
}

#[test]
fn memif_details_put_the_interface_name_at_offset_43() {
    let mut b = vec![0u8; 107];
    put(&mut b, 0, 2, 400);
    put(&mut b, 2, 4, 3);
    put(&mut b, 6, 4, 7); // sw_if_index
    b[10..16].copy_from_slice(&[2, 0, 0, 0, 0, 9]);
    put(&mut b, 16, 4, 0); // id
    put(&mut b, 20, 4, 0); // master
    put(&mut b, 29, 4, 4); // socket_id
    put(&mut b, 33, 4, 1024);
    put(&mut b, 37, 2, 2048);
    put(&mut b, 39, 4, 3); // admin + link up
    b[43..43 + 8].copy_from_slice(b"memif4/0");
    let (h, d) = message::decode::<MemifDetails>(&b).unwrap();
    assert_eq!(h.context, 3);
    assert_eq!(d.sw_if_index, 7);
    assert_eq!(d.socket_id, 4);
    assert_eq!(d.flags, 3);
    assert_eq!(d.if_name.0, "memif4/0");
}

#[test]
fn sw_interface_add_del_address_is_34_bytes() {
    let body = message::encode(
        req_header(500, 1, 1),
        &SwInterfaceAddDelAddress {
            sw_if_index: 3,
            is_add: true,
            del_all: false,
            prefix: Prefix::new("10.56.217.1".parse().unwrap(), 24),
        },
    );
    assert_eq!(body.len(), 34);
    assert_eq!(&body[10..14], &[0, 0, 0, 3]);
    assert_eq!(body[14], 1);
    assert_eq!(body[16], 0); // ADDRESS_IP4
    assert_eq!(&body[17..21], &[10, 56, 217, 1]);
    assert_eq!(body[33], 24);
}

#[test]
fn bridge_domain_add_del_v2_is_86_bytes_with_is_add_last() {
    let body = message::encode(
        req_header(600, 1, 1),
        &BridgeDomainAddDelV2 {
            bd_id: 4,
            flood: true,
            uu_flood: true,
            forward: true,
            learn: true,
            bd_tag: FixedStr::new("userspace-cni"),
            is_add: true,
            ..Default::default()
        },
    );
    assert_eq!(body.len(), 86);
    assert_eq!(&body[10..14], &[0, 0, 0, 4]);
    assert_eq!(&body[14..18], &[1, 1, 1, 1]);
    assert_eq!(&body[21..34], b"userspace-cni");
    assert_eq!(body[85], 1);
}

#[test]
fn bridge_domain_details_count_their_9_byte_members() {
    let mut b = vec![0u8; 93 + 18];
    put(&mut b, 0, 2, 601);
    put(&mut b, 6, 4, 4);
    put(&mut b, 89, 4, 2);
    put(&mut b, 93 + 4, 4, 7);
    put(&mut b, 93 + 9 + 4, 4, 8);
    let (_, d) = message::decode::<BridgeDomainDetails>(&b).unwrap();
    assert_eq!(d.bd_id, 4);
    let members: Vec<u32> = d.sw_if_details.iter().map(|m| m.sw_if_index).collect();
    assert_eq!(members, [7, 8]);
}

#[test]
fn sw_interface_set_l2_bridge_is_24_bytes() {
    let body = message::encode(
        req_header(602, 1, 1),
        &SwInterfaceSetL2Bridge {
            rx_sw_if_index: 7,
            bd_id: 4,
            port_type: L2PortType::NORMAL,
            shg: 0,
            enable: true,
        },
    );
    assert_eq!(body.len(), 24);
    assert_eq!(&body[14..18], &[0, 0, 0, 4]);
    assert_eq!(body[23], 1);
}

#[test]
fn create_vhost_user_if_v2_is_348_bytes() {
    let body = message::encode(
        req_header(700, 1, 1),
        &CreateVhostUserIfV2 {
            is_server: true,
            sock_filename: FixedStr::new("/var/run/vpp/abc-net1"),
            use_custom_mac: true,
            mac_address: [2, 0, 0, 0, 0, 1],
            tag: FixedStr::new("t"),
            ..Default::default()
        },
    );
    assert_eq!(body.len(), 348);
    assert_eq!(body[10], 1);
    assert_eq!(&body[11..32], b"/var/run/vpp/abc-net1");
    assert_eq!(body[277], 1);
    assert_eq!(&body[278..284], &[2, 0, 0, 0, 0, 1]);
    assert_eq!(body[284], b't');
}

#[test]
fn a_one_path_ip_route_add_del_is_206_bytes_with_the_next_hop_at_65() {
    let m = IpRouteAddDel {
        is_add: true,
        is_multipath: false,
        route: IpRoute {
            table_id: 0,
            stats_index: 0,
            prefix: Prefix::new("10.1.0.0".parse().unwrap(), 16),
            paths: Counted::from(vec![FibPath {
                sw_if_index: u32::MAX,
                weight: 1,
                proto: FibPathNhProto::IP4,
                nh: FibPathNh {
                    address: [192, 168, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                    ..Default::default()
                },
                ..Default::default()
            }]),
        },
    };
    let body = message::encode(req_header(800, 1, 1), &m);
    assert_eq!(body.len(), 206);
    assert_eq!(body[10], 1);
    assert_eq!(body[20], 0); // af
    assert_eq!(&body[21..25], &[10, 1, 0, 0]);
    assert_eq!(body[37], 16);
    assert_eq!(body[38], 1); // n_paths
    assert_eq!(&body[39..43], &[0xff; 4]);
    assert_eq!(body[51], 1); // weight
    assert_eq!(&body[65..69], &[192, 168, 1, 1]);
    assert_eq!(body[93], 0); // n_labels
}

#[test]
fn show_version_reply_reads_fixed_strings_up_to_their_nul() {
    let mut b = vec![0u8; 362];
    put(&mut b, 0, 2, 900);
    b[10..13].copy_from_slice(b"vpe");
    b[42..57].copy_from_slice(b"v25.10-release\0");
    b[73] = 0x55; // garbage in the last byte of `version`
    let (_, r) = message::decode::<vpp_api::messages::vlib::ShowVersionReply>(&b).unwrap();
    assert_eq!(r.program.0, "vpe");
    assert_eq!(r.version.0, "v25.10-release");
}

#[test]
fn ip_address_dump_is_15_bytes_with_is_ipv6_last() {
    let body = message::encode(
        req_header(810, 1, 2),
        &IpAddressDump {
            sw_if_index: 3,
            is_ipv6: true,
        },
    );
    assert_eq!(body.len(), 15);
    assert_eq!(&body[10..14], &[0, 0, 0, 3]);
    assert_eq!(body[14], 1);
    assert_eq!(IpAddressDump::name_crc(), "ip_address_dump_2d033de4");
    assert_eq!(IpAddressDetails::name_crc(), "ip_address_details_ee29b797");
}

#[test]
fn ip_address_details_carry_the_prefix_after_the_sw_if_index() {
    let mut b = vec![0u8; 28];
    put(&mut b, 0, 2, 811);
    put(&mut b, 2, 4, 2); // context
    put(&mut b, 6, 4, 3); // sw_if_index
    b[10] = 0; // af ip4
    b[11..15].copy_from_slice(&[10, 56, 217, 2]);
    b[27] = 24;
    let (_, d) = message::decode::<IpAddressDetails>(&b).unwrap();
    assert_eq!(d.sw_if_index, 3);
    assert_eq!(d.prefix.to_string(), "10.56.217.2/24");
}

#[test]
fn ip_route_dump_is_79_bytes_with_the_64_byte_table_name() {
    let body = message::encode(
        req_header(812, 1, 2),
        &IpRouteDump {
            table: IpTable {
                table_id: 7,
                is_ip6: true,
                name: FixedStr::new("t"),
            },
        },
    );
    assert_eq!(body.len(), 79);
    assert_eq!(&body[10..14], &[0, 0, 0, 7]);
    assert_eq!(body[14], 1);
    assert_eq!(body[15], b't');
    assert_eq!(IpRouteDump::name_crc(), "ip_route_dump_b9d2e09e");
    assert_eq!(IpRouteDetails::name_crc(), "ip_route_details_bda8f315");
}

#[test]
fn set_mtu_vlan_tag_rewrite_and_efp_filter_lay_out_as_their_api_structs() {
    // Request header: u16 id, u32 client_index, u32 context (10 bytes), then the fields.
    let h = req_header(300, 0x01020304, 9);
    let body = message::encode(
        h,
        &SwInterfaceSetMtu {
            sw_if_index: 5,
            mtu_l3: 9000,
            mtu_ip4: 9000,
            mtu_ip6: 0,
            mtu_mpls: 1500,
        },
    );
    let mut want = vec![0u8; 10 + 4 + 16];
    put(&mut want, 0, 2, 300);
    put(&mut want, 2, 4, 0x01020304);
    put(&mut want, 6, 4, 9);
    put(&mut want, 10, 4, 5);
    put(&mut want, 14, 4, 9000); // mtu[0]: L3
    put(&mut want, 18, 4, 9000); // mtu[1]: IPv4
    put(&mut want, 26, 4, 1500); // mtu[3]: MPLS
    assert_eq!(body, want);

    let body = message::encode(
        h,
        &L2InterfaceVlanTagRewrite {
            sw_if_index: 5,
            vtr_op: L2VtrOp::PUSH_1,
            push_dot1q: 1,
            tag1: 10,
            tag2: 0,
        },
    );
    let mut want = vec![0u8; 10 + 20];
    want[..10].copy_from_slice(&body[..10]);
    put(&mut want, 10, 4, 5);
    put(&mut want, 14, 4, 1);
    put(&mut want, 18, 4, 1);
    put(&mut want, 22, 4, 10);
    assert_eq!(body, want);

    let body = message::encode(
        h,
        &L2InterfaceEfpFilter {
            sw_if_index: 5,
            enable_disable: true,
        },
    );
    assert_eq!(&body[10..], &[0, 0, 0, 5, 1]);
    assert_eq!(
        (
            SwInterfaceSetMtu::CRC,
            L2InterfaceVlanTagRewrite::CRC,
            L2InterfaceEfpFilter::CRC
        ),
        ("5cbe85e5", "62cc0bbc", "5501adee")
    );
}

#[test]
fn loopback_unnumbered_and_tag_messages_lay_out_as_their_api_structs() {
    let h = req_header(40, 7, 9);
    let body = message::encode(
        h,
        &CreateLoopback {
            mac_address: [0xde, 0xad, 0, 0, 0, 1],
        },
    );
    assert_eq!(&body[10..], &[0xde, 0xad, 0, 0, 0, 1]);
    let body = message::encode(h, &DeleteLoopback { sw_if_index: 3 });
    assert_eq!(&body[10..], &[0, 0, 0, 3]);
    // vl_api_sw_interface_set_unnumbered_t: sw_if_index (the address's), unnumbered_sw_if_index,
    // is_add.
    let body = message::encode(
        h,
        &SwInterfaceSetUnnumbered {
            sw_if_index: 3,
            unnumbered_sw_if_index: 4,
            is_add: true,
        },
    );
    assert_eq!(&body[10..], &[0, 0, 0, 3, 0, 0, 0, 4, 1]);
    // vl_api_sw_interface_tag_add_del_t: is_add, sw_if_index, tag[64].
    let body = message::encode(
        h,
        &SwInterfaceTagAddDel {
            is_add: true,
            sw_if_index: 3,
            tag: FixedStr::new("ab"),
        },
    );
    let mut want = vec![0u8; 10 + 1 + 4 + 64];
    want[..10].copy_from_slice(&body[..10]);
    want[10] = 1;
    put(&mut want, 11, 4, 3);
    want[15] = b'a';
    want[16] = b'b';
    assert_eq!(body, want);
    let body = message::encode(
        h,
        &IpUnnumberedDump {
            sw_if_index: u32::MAX,
        },
    );
    assert_eq!(&body[10..], &[0xff; 4]);
    let reply = message::encode(
        Header {
            id: 41,
            client_index: 0,
            context: 9,
        },
        &IpUnnumberedDetails {
            sw_if_index: 4,
            ip_sw_if_index: 3,
        },
    );
    assert_eq!(&reply[6..], &[0, 0, 0, 4, 0, 0, 0, 3]);
    assert_eq!(
        [
            CreateLoopback::name_crc(),
            CreateLoopbackReply::name_crc(),
            DeleteLoopback::name_crc(),
            SwInterfaceSetUnnumbered::name_crc(),
            SwInterfaceTagAddDel::name_crc(),
            IpUnnumberedDump::name_crc(),
            IpUnnumberedDetails::name_crc(),
        ],
        [
            "create_loopback_42bb5d22",
            "create_loopback_reply_5383d31f",
            "delete_loopback_f9e6675e",
            "sw_interface_set_unnumbered_154a6439",
            "sw_interface_tag_add_del_426f8bc1",
            "ip_unnumbered_dump_f9e6675e",
            "ip_unnumbered_details_cc59bd42",
        ]
    );
}

/// `arp.api`: `proxy_arp_add_del` is `is_add` then the packed `proxy_arp` (u32 table id, the
/// two IPv4 addresses); the CRCs are vppapigen's on the v25.10 tag.
#[test]
fn proxy_arp_messages_have_their_arp_api_layouts_and_crcs() {
    use vpp_api::messages::arp::*;
    let h = req_header(60, 7, 8);
    let body = message::encode(
        h,
        &ProxyArpAddDel {
            is_add: true,
            proxy: ProxyArp {
                table_id: 0,
                low: [10, 56, 217, 1],
                hi: [10, 56, 217, 254],
            },
        },
    );
    assert_eq!(
        &body[10..],
        &[1, 0, 0, 0, 0, 10, 56, 217, 1, 10, 56, 217, 254]
    );
    let body = message::encode(
        h,
        &ProxyArpIntfcEnableDisable {
            sw_if_index: 5,
            enable: true,
        },
    );
    assert_eq!(&body[10..], &[0, 0, 0, 5, 1]);
    assert_eq!(
        [
            ProxyArpAddDel::name_crc(),
            ProxyArpAddDelReply::name_crc(),
            ProxyArpDump::name_crc(),
            ProxyArpDetails::name_crc(),
            ProxyArpIntfcEnableDisable::name_crc(),
            ProxyArpIntfcEnableDisableReply::name_crc(),
            ProxyArpIntfcDump::name_crc(),
            ProxyArpIntfcDetails::name_crc(),
        ],
        [
            "proxy_arp_add_del_1823c3e7",
            "proxy_arp_add_del_reply_e8d4e804",
            "proxy_arp_dump_51077d14",
            "proxy_arp_details_5b948673",
            "proxy_arp_intfc_enable_disable_ae6cfcfb",
            "proxy_arp_intfc_enable_disable_reply_e8d4e804",
            "proxy_arp_intfc_dump_51077d14",
            "proxy_arp_intfc_details_f6458e5f",
        ]
    );
}
