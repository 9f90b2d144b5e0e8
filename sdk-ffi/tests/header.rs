//! `include/userspace_cni.h` is what cbindgen makes from the crate now: this fails when an entry
//! point, type or doc comment changed without the header being regenerated. Regenerate with
//! `USERSPACE_BLESS=1 cargo test -p userspace-cni-sdk-ffi --test header`.

use std::path::Path;

#[test]
fn the_checked_in_header_is_the_generated_one() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        // lib.rs alone: cbindgen follows its `mod` declarations.
        .with_src(dir.join("src/lib.rs"))
        .generate()
        .expect("cbindgen");
    let mut generated = Vec::new();
    bindings.write(&mut generated);
    let generated = String::from_utf8(generated).expect("utf-8");
    let path = dir.join("include/userspace_cni.h");
    if std::env::var_os("USERSPACE_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(&path, &generated).expect("write the header");
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    if checked_in != generated {
        let first = checked_in
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| checked_in.lines().count().min(generated.lines().count()));
        panic!(
            "{} is stale (first difference at line {}): regenerate it with\n  USERSPACE_BLESS=1 cargo test -p userspace-cni-sdk-ffi --test header\nand commit it",
            path.display(),
            first + 1
        );
    }
}
