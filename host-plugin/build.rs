//! The plugin is exec'd for every CNI call, so its start matters: linked as a position-
//! dependent executable (as Go links the reference plugins), the dynamic loader has no
//! relative relocations to apply to it — a third of a whole ADD's instructions as a PIE — and
//! the process touches half the pages.
fn main() {
    println!("cargo:rustc-link-arg-bin=userspace=-no-pie");
}
