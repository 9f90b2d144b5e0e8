//! `vnet/interface.api` (3.2.x).

use crate::codec::{FixedStr, Prefix};
use crate::{messages, wire_enum};

/// `sw_if_index` meaning "none" or "all"; 0 is `local0`, a real interface.
pub const ANY_SW_IF_INDEX: u32 = u32::MAX;

wire_enum! {
    /// `if_status_flags`.
    pub struct IfStatusFlags(u32) { DOWN = 0, ADMIN_UP = 1, LINK_UP = 2 }
}

messages! {
    request SwInterfaceSetFlags = "sw_interface_set_flags", "f5aec1b8" -> SwInterfaceSetFlagsReply {
        sw_if_index: u32,
        flags: IfStatusFlags,
    }
    reply SwInterfaceSetFlagsReply = "sw_interface_set_flags_reply", "e8d4e804" {}
    request SwInterfaceAddDelAddress = "sw_interface_add_del_address", "5463d73b" -> SwInterfaceAddDelAddressReply {
        sw_if_index: u32,
        is_add: bool,
        del_all: bool,
        prefix: Prefix,
    }
    reply SwInterfaceAddDelAddressReply = "sw_interface_add_del_address_reply", "e8d4e804" {}
    /// Per-protocol MTUs: the `.api`'s `u32 mtu[4]`, in VPP's order L3, IPv4, IPv6, MPLS
    /// (0 leaves one as it is).
    request SwInterfaceSetMtu = "sw_interface_set_mtu", "5cbe85e5" -> SwInterfaceSetMtuReply {
        sw_if_index: u32,
        mtu_l3: u32,
        mtu_ip4: u32,
        mtu_ip6: u32,
        mtu_mpls: u32,
    }
    reply SwInterfaceSetMtuReply = "sw_interface_set_mtu_reply", "e8d4e804" {}
    dump SwInterfaceDump = "sw_interface_dump", "aa610c27" -> SwInterfaceDetails {
        sw_if_index: u32,
        name_filter_valid: bool,
        name_filter: String,
    }
    details SwInterfaceDetails = "sw_interface_details", "6c221fc7" {
        sw_if_index: u32,
        sup_sw_if_index: u32,
        l2_address: [u8; 6],
        flags: IfStatusFlags,
        r#type: u32,
        link_duplex: u32,
        link_speed: u32,
        link_mtu: u16,
        mtu: [u8; 16],
        sub_id: u32,
        sub_number_of_tags: u8,
        sub_outer_vlan_id: u16,
        sub_inner_vlan_id: u16,
        sub_if_flags: u32,
        vtr_op: u32,
        vtr_push_dot1q: u32,
        vtr_tag1: u32,
        vtr_tag2: u32,
        outer_tag: u16,
        b_dmac: [u8; 6],
        b_smac: [u8; 6],
        b_vlanid: u16,
        i_sid: u32,
        interface_name: FixedStr<64>,
        interface_dev_type: FixedStr<64>,
        tag: FixedStr<64>,
    }
    /// Creates a loopback (`loop<instance>`, the lowest free instance); a zero MAC lets VPP
    /// make one.
    request CreateLoopback = "create_loopback", "42bb5d22" -> CreateLoopbackReply {
        mac_address: [u8; 6],
    }
    reply CreateLoopbackReply = "create_loopback_reply", "5383d31f" {
        sw_if_index: u32,
    }
    /// Deletes a loopback (`INVALID_SW_IF_INDEX` for any other interface).
    request DeleteLoopback = "delete_loopback", "f9e6675e" -> DeleteLoopbackReply {
        sw_if_index: u32,
    }
    reply DeleteLoopbackReply = "delete_loopback_reply", "e8d4e804" {}
    /// Makes `unnumbered_sw_if_index` borrow the addresses of `sw_if_index` (`is_add`), or
    /// ends that. The field names are VPP's, backwards from what they mean: `sw_if_index` is
    /// the interface *with* the address.
    request SwInterfaceSetUnnumbered = "sw_interface_set_unnumbered", "154a6439" -> SwInterfaceSetUnnumberedReply {
        sw_if_index: u32,
        unnumbered_sw_if_index: u32,
        is_add: bool,
    }
    reply SwInterfaceSetUnnumberedReply = "sw_interface_set_unnumbered_reply", "e8d4e804" {}
    /// Sets (`is_add`) or clears an interface's tag, shown by `sw_interface_dump`.
    request SwInterfaceTagAddDel = "sw_interface_tag_add_del", "426f8bc1" -> SwInterfaceTagAddDelReply {
        is_add: bool,
        sw_if_index: u32,
        tag: FixedStr<64>,
    }
    reply SwInterfaceTagAddDelReply = "sw_interface_tag_add_del_reply", "e8d4e804" {}
}
