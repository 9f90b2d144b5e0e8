//! cpuset lists (cgroup cpuset.cpus, Cpus_allowed_list): parse, print, parse again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use userspace_cni_sdk::resources::cpuset::CpuSet;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(set) = text.parse::<CpuSet>() {
        let printed = set.to_string();
        let again: CpuSet = printed.parse().expect("printed cpuset parses");
        assert_eq!(again, set);
    }
});
