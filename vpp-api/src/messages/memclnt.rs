//! `vlibmemory/memclnt.api` (2.1.0): the socket handshake and the ping that ends dumps.

use crate::codec::{Counted, FixedStr};
use crate::{messages, wire_struct};

/// `sockclnt_create`'s fixed id: memclnt messages are numbered from 1 in file order, and the
/// client must send this one before it knows any other id.
pub const SOCKCLNT_CREATE_ID: u16 = 15;
/// `sockclnt_create_reply`'s fixed id.
pub const SOCKCLNT_CREATE_REPLY_ID: u16 = 16;

wire_struct! {
    /// One `name_crc` and the id it has in this VPP run.
    pub struct MessageTableEntry {
        /// Message id.
        pub index: u16,
        /// `<name>_<crc>`.
        pub name: FixedStr<64>,
    }
}

messages! {
    /// Opens an API session; has no `client_index` (the client has none yet).
    raw SockclntCreate = "sockclnt_create", "455fb9c4" {
        context: u32,
        name: FixedStr<64>,
    }
    /// Lists every message this VPP knows, with its id. `client_index` precedes `context`.
    raw SockclntCreateReply = "sockclnt_create_reply", "35166268" {
        client_index: u32,
        context: u32,
        response: i32,
        /// The handle to send as `client_index` from now on.
        index: u32,
        message_table: Counted<u16, MessageTableEntry>,
    }
    /// Closes the session (the reply's `response` is 1 on success).
    request SockclntDelete = "sockclnt_delete", "8ac76db6" -> SockclntDeleteReply {
        index: u32,
    }
    /// Its `retval` is the `response` field: 1 on success, -1 for an unknown index.
    reply SockclntDeleteReply = "sockclnt_delete_reply", "8f38b1ee" {}
    /// Liveness, and the end marker of dumps.
    request ControlPing = "control_ping", "51077d14" -> ControlPingReply {}
    reply ControlPingReply = "control_ping_reply", "f6b0b8ca" {
        client_index: u32,
        vpe_pid: u32,
    }
}
