//! `vlibmemory/vlib.api` and `vpp/api/vpe.api`: the CLI and the version.

use crate::codec::FixedStr;
use crate::messages;

messages! {
    /// Runs a debug CLI command; for diagnostics only, its output is not an API.
    request CliInband = "cli_inband", "f8377302" -> CliInbandReply {
        cmd: String,
    }
    reply CliInbandReply = "cli_inband_reply", "05879051" {
        reply: String,
    }
    /// The running VPP's version.
    request ShowVersion = "show_version", "51077d14" -> ShowVersionReply {}
    reply ShowVersionReply = "show_version_reply", "c919bde1" {
        program: FixedStr<32>,
        version: FixedStr<32>,
        build_date: FixedStr<32>,
        build_directory: FixedStr<256>,
    }
}
