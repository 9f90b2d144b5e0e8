//! `vnet/l2/l2.api` (3.3.0): bridge domains.

use crate::codec::{Counted, FixedStr};
use crate::{messages, wire_enum, wire_struct};

wire_enum! {
    /// `l2_port_type`.
    pub struct L2PortType(u32) { NORMAL = 0, BVI = 1, UU_FWD = 2 }
}

wire_struct! {
    /// `bridge_domain_sw_if`: a member of a bridge domain.
    pub struct BridgeDomainSwIf {
        /// Unused.
        pub context: u32,
        /// The member.
        pub sw_if_index: u32,
        /// Split-horizon group.
        pub shg: u8,
    }
}

messages! {
    /// Creates (`is_add`) or deletes a bridge domain; `bd_id` ~0 lets VPP pick.
    request BridgeDomainAddDelV2 = "bridge_domain_add_del_v2", "600b7170" -> BridgeDomainAddDelV2Reply {
        bd_id: u32,
        flood: bool,
        uu_flood: bool,
        forward: bool,
        learn: bool,
        arp_term: bool,
        arp_ufwd: bool,
        mac_age: u8,
        bd_tag: FixedStr<64>,
        is_add: bool,
    }
    reply BridgeDomainAddDelV2Reply = "bridge_domain_add_del_v2_reply", "fcb1e980" {
        bd_id: u32,
    }
    /// `bd_id` ~0 lists all but bd 0; `sw_if_index` must be ~0.
    dump BridgeDomainDump = "bridge_domain_dump", "74396a43" -> BridgeDomainDetails {
        bd_id: u32,
        sw_if_index: u32,
    }
    details BridgeDomainDetails = "bridge_domain_details", "0fa506fd" {
        bd_id: u32,
        flood: bool,
        uu_flood: bool,
        forward: bool,
        learn: bool,
        arp_term: bool,
        arp_ufwd: bool,
        mac_age: u8,
        bd_tag: FixedStr<64>,
        bvi_sw_if_index: u32,
        uu_fwd_sw_if_index: u32,
        sw_if_details: Counted<u32, BridgeDomainSwIf>,
    }
    /// Joins (`enable`) an interface to a bridge domain, or returns it to L3. VPP creates a
    /// missing bridge domain on join.
    request SwInterfaceSetL2Bridge = "sw_interface_set_l2_bridge", "d0678b13" -> SwInterfaceSetL2BridgeReply {
        rx_sw_if_index: u32,
        bd_id: u32,
        port_type: L2PortType,
        shg: u8,
        enable: bool,
    }
    reply SwInterfaceSetL2BridgeReply = "sw_interface_set_l2_bridge_reply", "e8d4e804" {}
    /// VLAN tag rewrite on an L2 interface: `vtr_op` [`L2VtrOp`]; a push on ingress is a pop
    /// on egress. `push_dot1q` 1 pushes 802.1Q (0: 802.1ad); `tag1`/`tag2` the VLAN ids.
    request L2InterfaceVlanTagRewrite = "l2_interface_vlan_tag_rewrite", "62cc0bbc" -> L2InterfaceVlanTagRewriteReply {
        sw_if_index: u32,
        vtr_op: u32,
        push_dot1q: u32,
        tag1: u32,
        tag2: u32,
    }
    reply L2InterfaceVlanTagRewriteReply = "l2_interface_vlan_tag_rewrite_reply", "e8d4e804" {}
    /// Egress filter: a frame leaves the interface only if its tags match the interface's
    /// tag rewrite (what keeps two VLANs of one bridge domain apart).
    request L2InterfaceEfpFilter = "l2_interface_efp_filter", "5501adee" -> L2InterfaceEfpFilterReply {
        sw_if_index: u32,
        enable_disable: bool,
    }
    reply L2InterfaceEfpFilterReply = "l2_interface_efp_filter_reply", "e8d4e804" {}
}

/// `l2_vtr_op` values (`vnet/l2/l2_vtr.h`).
pub struct L2VtrOp;

impl L2VtrOp {
    /// No rewrite.
    pub const DISABLED: u32 = 0;
    /// Push one tag on ingress (pop it on egress): an access port.
    pub const PUSH_1: u32 = 1;
}
