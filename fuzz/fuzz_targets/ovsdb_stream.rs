//! Bytes from ovsdb-server, split into reads at arbitrary points: the decoder yields messages
//! or a protocol error, and the transaction-result checker copes with any reply.
#![no_main]

use libfuzzer_sys::fuzz_target;
use userspace_plugin::ovs::{jsonrpc::StreamDecoder, ovsdb};

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let step = usize::from(split).max(1);
    let mut decoder = StreamDecoder::default();
    for chunk in rest.chunks(step) {
        decoder.push(chunk);
        loop {
            match decoder.next_message() {
                Ok(Some(msg)) => {
                    let ops = vec!["insert".to_owned(), "mutate".to_owned()];
                    let _ = ovsdb::check_results(&ops, msg["result"].clone());
                    let _ = ovsdb::decode_map(&msg["result"]);
                    let _ = ovsdb::decode_set(&msg["result"]);
                    let _ = ovsdb::decode_uuid(&msg["result"]);
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
});
