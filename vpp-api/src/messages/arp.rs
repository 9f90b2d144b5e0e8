//! `vnet/arp/arp.api` (1.0.0): proxy ARP, the ranges of addresses VPP answers ARP for on the
//! interfaces where it is enabled. The CRCs were produced by `vppapigen` from the v25.10 tag.

use crate::{messages, wire_struct};

wire_struct! {
    /// `proxy_arp`: a range of IPv4 addresses (both ends included) in one FIB table.
    pub struct ProxyArp {
        /// FIB table id (0 = the default table).
        pub table_id: u32,
        /// Lowest address of the range.
        pub low: [u8; 4],
        /// Highest address of the range.
        pub hi: [u8; 4],
    }
}

messages! {
    /// Adds or deletes a range. VPP 25.10: adding one that is there is 0 (it is kept once),
    /// deleting one that is not is `NO_SUCH_ENTRY`, an unknown table `NO_SUCH_FIB`.
    request ProxyArpAddDel = "proxy_arp_add_del", "1823c3e7" -> ProxyArpAddDelReply {
        is_add: bool,
        proxy: ProxyArp,
    }
    reply ProxyArpAddDelReply = "proxy_arp_add_del_reply", "e8d4e804" {}
    /// Lists the ranges.
    dump ProxyArpDump = "proxy_arp_dump", "51077d14" -> ProxyArpDetails {}
    /// One range.
    details ProxyArpDetails = "proxy_arp_details", "5b948673" {
        proxy: ProxyArp,
    }
    /// Enables or disables proxy ARP on an interface (idempotent; an unknown interface is
    /// `INVALID_SW_IF_INDEX`).
    request ProxyArpIntfcEnableDisable = "proxy_arp_intfc_enable_disable", "ae6cfcfb" -> ProxyArpIntfcEnableDisableReply {
        sw_if_index: u32,
        enable: bool,
    }
    reply ProxyArpIntfcEnableDisableReply = "proxy_arp_intfc_enable_disable_reply", "e8d4e804" {}
    /// Lists the interfaces proxy ARP is enabled on.
    dump ProxyArpIntfcDump = "proxy_arp_intfc_dump", "51077d14" -> ProxyArpIntfcDetails {}
    /// One interface.
    details ProxyArpIntfcDetails = "proxy_arp_intfc_details", "f6458e5f" {
        sw_if_index: u32,
    }
}
