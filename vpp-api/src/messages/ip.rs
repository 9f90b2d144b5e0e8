//! `vnet/ip/ip.api` (3.2.0): routes, with `fib_types.api`'s path, and the dumps of an
//! interface's addresses and a table's routes. The dump CRCs are those in VPP's generated
//! `ip.api_tojson.h`, the same file that gives `ip_route_add_del`'s.

use crate::codec::{Counted, DecodeError, Decoder, Encoder, FixedStr, Prefix, Wire};
use crate::{messages, wire_enum, wire_struct};

wire_enum! {
    /// `fib_path_type`.
    pub struct FibPathType(u32) { NORMAL = 0, LOCAL = 1, DROP = 2 }
}

wire_enum! {
    /// `fib_path_nh_proto`.
    pub struct FibPathNhProto(u32) { IP4 = 0, IP6 = 1, MPLS = 2, ETHERNET = 3 }
}

wire_struct! {
    /// `fib_mpls_label`.
    pub struct FibMplsLabel {
        /// Uniform mode.
        pub is_uniform: u8,
        /// Label.
        pub label: u32,
        /// TTL.
        pub ttl: u8,
        /// EXP bits.
        pub exp: u8,
    }
}

/// `fib_mpls_label label_stack[16]`: always 16 entries on the wire, `n_labels` of them used.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LabelStack(pub [FibMplsLabel; 16]);

impl Wire for LabelStack {
    fn put(&self, e: &mut Encoder) {
        for l in &self.0 {
            l.put(e);
        }
    }
    fn get(d: &mut Decoder<'_>) -> Result<Self, DecodeError> {
        let mut s = Self::default();
        for l in &mut s.0 {
            *l = FibMplsLabel::get(d)?;
        }
        Ok(s)
    }
}

wire_struct! {
    /// `fib_path_nh`: the next hop.
    pub struct FibPathNh {
        /// `address_union`: IPv4 in the first four bytes.
        pub address: [u8; 16],
        /// MPLS via label.
        pub via_label: u32,
        /// Object id.
        pub obj_id: u32,
        /// Classify table.
        pub classify_table_index: u32,
    }
}

wire_struct! {
    /// `fib_path`. `sw_if_index` ~0 resolves the next hop recursively; 0 would be `local0`.
    pub struct FibPath {
        /// Out interface, or ~0.
        pub sw_if_index: u32,
        /// Table of the next hop.
        pub table_id: u32,
        /// RPF id (0 = unset).
        pub rpf_id: u32,
        /// Weight (0 counts as 1).
        pub weight: u8,
        /// Preference.
        pub preference: u8,
        /// Path type.
        pub r#type: FibPathType,
        /// `fib_path_flags`.
        pub flags: u32,
        /// Next-hop protocol.
        pub proto: FibPathNhProto,
        /// Next hop.
        pub nh: FibPathNh,
        /// Labels used.
        pub n_labels: u8,
        /// Labels.
        pub label_stack: LabelStack,
    }
}

wire_struct! {
    /// `ip_route`.
    pub struct IpRoute {
        /// FIB table.
        pub table_id: u32,
        /// Ignored on add.
        pub stats_index: u32,
        /// Destination, already masked.
        pub prefix: Prefix,
        /// Paths.
        pub paths: Counted<u8, FibPath>,
    }
}

wire_struct! {
    /// `ip_table`: a FIB table by id and family (`name` is ignored in a dump request).
    pub struct IpTable {
        /// Table id (0 = the default table).
        pub table_id: u32,
        /// IPv6 rather than IPv4.
        pub is_ip6: bool,
        /// Name.
        pub name: FixedStr<64>,
    }
}

messages! {
    request IpRouteAddDel = "ip_route_add_del", "b8ecfe0d" -> IpRouteAddDelReply {
        is_add: bool,
        is_multipath: bool,
        route: IpRoute,
    }
    reply IpRouteAddDelReply = "ip_route_add_del_reply", "1992deab" {
        stats_index: u32,
    }
    /// Lists the addresses of one interface, one family at a time.
    dump IpAddressDump = "ip_address_dump", "2d033de4" -> IpAddressDetails {
        sw_if_index: u32,
        is_ipv6: bool,
    }
    /// One address (`address_with_prefix`, laid out as a `prefix`).
    details IpAddressDetails = "ip_address_details", "ee29b797" {
        sw_if_index: u32,
        prefix: Prefix,
    }
    /// Lists the routes of one table and family.
    dump IpRouteDump = "ip_route_dump", "b9d2e09e" -> IpRouteDetails {
        table: IpTable,
    }
    details IpRouteDetails = "ip_route_details", "bda8f315" {
        route: IpRoute,
    }
    /// Lists unnumbered interfaces (`sw_if_index` ~0: all of them).
    dump IpUnnumberedDump = "ip_unnumbered_dump", "f9e6675e" -> IpUnnumberedDetails {
        sw_if_index: u32,
    }
    /// An unnumbered interface and the one whose addresses it uses.
    details IpUnnumberedDetails = "ip_unnumbered_details", "cc59bd42" {
        sw_if_index: u32,
        ip_sw_if_index: u32,
    }
}
