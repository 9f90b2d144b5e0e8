//! The plugin is exec'd for every CNI call, so its start matters. Measured with callgrind
//! (`cargo bench -p userspace --bench add_del`): as a dynamically linked executable, the
//! loader's binding of the ~160 glibc symbols the binary uses cost ~250 k instructions of a
//! ~0.9 M ADD, whatever the binding mode (std calls libc through the GOT, so lazy binding
//! saves nothing). So the `userspace` binary is linked statically and position-dependent
//! (as Go links the reference plugins): no loader, no relocations to apply at start.
//!
//! rustc links std's C libraries dynamically unless the whole build has
//! `-C target-feature=+crt-static`, which Cargo cannot set for one binary (and which would
//! break the workspace's proc-macros and cdylib). So this build script hands the linker, for
//! this binary only, `-static` plus a directory of linker scripts named as the shared
//! libraries rustc asks for (`-lc`, `-lgcc_s`, …), each naming the static archive instead;
//! `-L` applies to every `-l` on the command line, and ours is searched before the system's.
//! Tests and other binaries of the package are linked as usual.
//!
//! `USERSPACE_DYNAMIC=1` at build time links dynamically (for comparison).

use std::path::PathBuf;
use std::process::Command;

/// The libraries rustc names for std on linux-gnu, and the static archives that replace them
/// (libgcc_s's unwinder is libgcc_eh's; glibc ≥ 2.34 keeps stub archives for the others).
const LIBS: [(&str, &[&str]); 7] = [
    ("c", &["libc.a", "libgcc_eh.a", "libgcc.a"]),
    ("gcc_s", &["libgcc_eh.a", "libgcc.a"]),
    ("m", &["libm.a"]),
    ("pthread", &["libpthread.a"]),
    ("dl", &["libdl.a"]),
    ("rt", &["librt.a"]),
    ("util", &["libutil.a"]),
];

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=USERSPACE_DYNAMIC");
    println!("cargo:rustc-link-arg-bin=userspace=-no-pie");
    if std::env::var_os("USERSPACE_DYNAMIC").is_some_and(|v| v == "1") {
        return;
    }
    let target = std::env::var("TARGET").unwrap_or_default();
    if !target.ends_with("-linux-gnu") {
        return;
    }
    match static_dir() {
        Ok(dir) => {
            println!("cargo:rustc-link-arg-bin=userspace=-static");
            println!("cargo:rustc-link-arg-bin=userspace=-L{}", dir.display());
        }
        // Without the static archives (no libc6-dev's libc.a), the binary stays dynamic and
        // says so in the build's warnings.
        Err(why) => println!("cargo:warning=userspace linked dynamically: {why}"),
    }
}

/// Writes the linker scripts; their directory.
fn static_dir() -> Result<PathBuf, String> {
    let out = PathBuf::from(std::env::var("OUT_DIR").map_err(|e| e.to_string())?).join("static");
    std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_owned());
    for (name, archives) in LIBS {
        let mut paths = Vec::new();
        for a in archives {
            let found = Command::new(&cc)
                .arg(format!("-print-file-name={a}"))
                .output()
                .map_err(|e| format!("{cc}: {e}"))?;
            let path = String::from_utf8_lossy(&found.stdout).trim().to_owned();
            // cc prints the bare name back when it does not find the file.
            if !path.starts_with('/') {
                return Err(format!("{a} not found by {cc}"));
            }
            paths.push(path);
        }
        let script = format!("GROUP ( {} )\n", paths.join(" "));
        std::fs::write(out.join(format!("lib{name}.so")), script).map_err(|e| e.to_string())?;
    }
    Ok(out)
}
