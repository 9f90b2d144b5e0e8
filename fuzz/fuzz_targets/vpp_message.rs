//! Bytes from VPP's API socket: frames split at arbitrary points, each body decoded as every
//! message a client reads (replies, details, the handshake reply). Decoding never panics, and
//! what decodes re-encodes to bytes that decode to the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vpp_api::frame::FrameDecoder;
use vpp_api::message::{self, Message};
use vpp_api::messages::{interface::*, ip::*, l2::*, memclnt::*, memif::*, vhost_user::*, vlib::*};

fn check<M: Message + PartialEq + std::fmt::Debug>(body: &[u8]) {
    if let Ok((h, m)) = message::decode::<M>(body) {
        let again = message::encode(h, &m);
        let (h2, m2) = message::decode::<M>(&again).expect("re-encoded message decodes");
        assert_eq!(h, h2);
        // Fixed strings are cut to fit once; after that the message is stable.
        assert_eq!(message::encode(h2, &m2), again);
    }
}

fn all(body: &[u8]) {
    check::<SockclntCreateReply>(body);
    check::<ControlPingReply>(body);
    check::<CliInbandReply>(body);
    check::<ShowVersionReply>(body);
    check::<MemifSocketFilenameAddDelV2Reply>(body);
    check::<MemifSocketFilenameDetails>(body);
    check::<MemifCreateV2Reply>(body);
    check::<MemifDetails>(body);
    check::<SwInterfaceDetails>(body);
    check::<BridgeDomainDetails>(body);
    check::<BridgeDomainAddDelV2Reply>(body);
    check::<CreateVhostUserIfV2Reply>(body);
    check::<SwInterfaceVhostUserDetails>(body);
    check::<IpRouteAddDelReply>(body);
    check::<IpAddressDetails>(body);
    check::<IpRouteDetails>(body);
    // What the fake server (and VPP) decode: requests.
    check::<MemifCreateV2>(body);
    check::<IpRouteAddDel>(body);
    check::<SwInterfaceAddDelAddress>(body);
    check::<IpAddressDump>(body);
    check::<IpRouteDump>(body);
}

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let step = usize::from(split).max(1);
    let mut frames = FrameDecoder::default();
    for chunk in rest.chunks(step) {
        frames.push(chunk);
        loop {
            match frames.next_frame() {
                Ok(Some(body)) => all(&body),
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
    // Bodies without framing too, so the decoders see short inputs directly.
    all(rest);
});
