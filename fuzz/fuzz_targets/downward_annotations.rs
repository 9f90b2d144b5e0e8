//! The downward-API annotations file: parsing never panics, and what we render we read back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use userspace_cni_sdk::podinfo::downward;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(map) = downward::parse(text) {
        let again = downward::parse(&downward::render(&map)).expect("rendered file parses");
        assert_eq!(again, map);
    }
    assert_eq!(downward::unquote(&downward::quote(text)).ok().as_deref(), Some(text));
});
