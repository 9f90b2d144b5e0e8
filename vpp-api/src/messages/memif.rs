//! `plugins/memif/memif.api` (3.1.0).

use crate::codec::FixedStr;
use crate::{messages, wire_enum};

/// `socket_id` meaning "VPP picks a free one" in `memif_socket_filename_add_del_v2`.
pub const PICK_SOCKET_ID: u32 = u32::MAX;

wire_enum! {
    /// `memif_role`.
    pub struct MemifRole(u32) { MASTER = 0, SLAVE = 1 }
}

wire_enum! {
    /// `memif_mode`.
    pub struct MemifMode(u32) { ETHERNET = 0, IP = 1, PUNT_INJECT = 2 }
}

messages! {
    /// Registers (or removes) a socket file under an id; id 0 is VPP's built-in socket.
    request MemifSocketFilenameAddDelV2 = "memif_socket_filename_add_del_v2", "34223bdf" -> MemifSocketFilenameAddDelV2Reply {
        is_add: bool,
        socket_id: u32,
        socket_filename: String,
    }
    reply MemifSocketFilenameAddDelV2Reply = "memif_socket_filename_add_del_v2_reply", "9f29bdb9" {
        socket_id: u32,
    }
    dump MemifSocketFilenameDump = "memif_socket_filename_dump", "51077d14" -> MemifSocketFilenameDetails {}
    details MemifSocketFilenameDetails = "memif_socket_filename_details", "7ff326f7" {
        socket_id: u32,
        socket_filename: FixedStr<108>,
    }
    /// Creates a memif interface (`memif<socket_id>/<id>`).
    request MemifCreateV2 = "memif_create_v2", "8c7de5f7" -> MemifCreateV2Reply {
        role: MemifRole,
        mode: MemifMode,
        rx_queues: u8,
        tx_queues: u8,
        id: u32,
        socket_id: u32,
        ring_size: u32,
        buffer_size: u16,
        no_zero_copy: bool,
        use_dma: bool,
        hw_addr: [u8; 6],
        secret: FixedStr<24>,
    }
    reply MemifCreateV2Reply = "memif_create_v2_reply", "5383d31f" {
        sw_if_index: u32,
    }
    request MemifDelete = "memif_delete", "f9e6675e" -> MemifDeleteReply {
        sw_if_index: u32,
    }
    reply MemifDeleteReply = "memif_delete_reply", "e8d4e804" {}
    dump MemifDump = "memif_dump", "51077d14" -> MemifDetails {}
    details MemifDetails = "memif_details", "da34feb9" {
        sw_if_index: u32,
        hw_addr: [u8; 6],
        id: u32,
        role: MemifRole,
        mode: MemifMode,
        zero_copy: bool,
        socket_id: u32,
        ring_size: u32,
        buffer_size: u16,
        flags: u32,
        if_name: FixedStr<64>,
    }
}
