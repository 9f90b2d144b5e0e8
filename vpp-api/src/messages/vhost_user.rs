//! `plugins/vhost/vhost_user.api` (4.1.1; a plugin since VPP 23.06, in vnet before).

use crate::codec::FixedStr;
use crate::messages;

messages! {
    /// Creates a vhost-user interface; `is_server` makes VPP create the socket.
    request CreateVhostUserIfV2 = "create_vhost_user_if_v2", "dba1cc1d" -> CreateVhostUserIfV2Reply {
        is_server: bool,
        sock_filename: FixedStr<256>,
        renumber: bool,
        disable_mrg_rxbuf: bool,
        disable_indirect_desc: bool,
        enable_gso: bool,
        enable_packed: bool,
        enable_event_idx: bool,
        custom_dev_instance: u32,
        use_custom_mac: bool,
        mac_address: [u8; 6],
        tag: FixedStr<64>,
    }
    reply CreateVhostUserIfV2Reply = "create_vhost_user_if_v2_reply", "5383d31f" {
        sw_if_index: u32,
    }
    request DeleteVhostUserIf = "delete_vhost_user_if", "f9e6675e" -> DeleteVhostUserIfReply {
        sw_if_index: u32,
    }
    reply DeleteVhostUserIfReply = "delete_vhost_user_if_reply", "e8d4e804" {}
    dump SwInterfaceVhostUserDump = "sw_interface_vhost_user_dump", "f9e6675e" -> SwInterfaceVhostUserDetails {
        sw_if_index: u32,
    }
    details SwInterfaceVhostUserDetails = "sw_interface_vhost_user_details", "0cee1e53" {
        sw_if_index: u32,
        interface_name: FixedStr<64>,
        virtio_net_hdr_sz: u32,
        features_first_32: u32,
        features_last_32: u32,
        is_server: bool,
        sock_filename: FixedStr<256>,
        num_regions: u32,
        sock_errno: i32,
    }
}
