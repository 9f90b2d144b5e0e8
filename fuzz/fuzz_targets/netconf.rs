//! The plugin's stdin: any bytes must give a config or a CNI error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use userspace_cni_sdk::wire::NetConf;

fuzz_target!(|data: &[u8]| {
    if let Ok(conf) = NetConf::from_slice(data) {
        // The container defaults are derived from whatever the host side says.
        let _ = conf.container_conf(true);
        let _ = conf.container_conf(false);
    }
    let _ = userspace_plugin::config::load(data, None);
});
