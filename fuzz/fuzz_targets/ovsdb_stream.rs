//! Bytes from ovsdb-server, split into reads at arbitrary points: the decoder yields messages
//! or a protocol error, and the transaction-result checker and value decoders cope with any
//! reply.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ovsdb::{StreamDecoder, check_results, value};

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
                    let _ = check_results(&ops, msg["result"].clone());
                    let _ = value::decode_map(&msg["result"]);
                    let _ = value::decode_set(&msg["result"]);
                    let _ = value::decode_uuid(&msg["result"]);
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
});
