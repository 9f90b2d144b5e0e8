//! `userspace_args`: the `argc`/`argv` for `rte_eal_init`.

use std::ffi::{CStr, CString, c_char, c_int};

use userspace_cni_sdk::dpdk::eal::shell_join;
use userspace_cni_sdk::dpdk::{EalArgs, Memory, TestpmdOptions};

use crate::options::Huge;
use crate::view::UserspaceView;
use crate::{
    Error, Result, UserspaceStatus, borrow, cstring, give_string, status_call, value_call,
};

/// An argument vector. Opaque; made by `userspace_eal_args`, released by
/// `userspace_args_free`. Independent of the view it was made from.
#[derive(Debug)]
pub struct UserspaceArgs {
    /// The words; the pointers below point into them (a CString's buffer does not move).
    words: Vec<CString>,
    /// `argv`: one pointer per word, then NULL. `rte_eal_init` may reorder it.
    argv: Vec<*mut c_char>,
    line: CString,
}

impl UserspaceArgs {
    fn new(words: Vec<String>) -> Self {
        let line = cstring(&shell_join(&words));
        let words: Vec<CString> = words.iter().map(|w| cstring(w)).collect();
        let mut argv: Vec<*mut c_char> = words.iter().map(|w| w.as_ptr().cast_mut()).collect();
        argv.push(std::ptr::null_mut());
        Self { words, argv, line }
    }
}

/// The memory the EAL arguments use: the agent's rule (`--huge auto|yes|no`, `--memory-mb`).
pub(crate) fn memory(v: &UserspaceView) -> Result<Memory> {
    let auto = v.pod.memory();
    let m = match (v.options.huge, auto) {
        (Huge::Auto, m) => m,
        (Huge::No, m) => Memory::NoHuge(m.mb()),
        (Huge::Yes, Memory::Hugepages(mb)) => Memory::Hugepages(mb),
        (Huge::Yes, Memory::NoHuge(_)) => {
            return Err(Error::new(
                UserspaceStatus::Eal,
                "USERSPACE_OPTION_HUGEPAGES is yes but the pod has no usable hugepages (no hugetlbfs mount, no free pages, or a zero hugetlb limit)",
            ));
        }
    };
    Ok(match (v.options.memory_mb, m) {
        (None, m) => m,
        (Some(mb), Memory::NoHuge(_)) => Memory::NoHuge(mb),
        (Some(mb), Memory::Hugepages(_)) => {
            let budget = v.pod.resources.hugepages.usable_bytes().unwrap_or(0) >> 20;
            if mb > budget {
                return Err(Error::new(
                    UserspaceStatus::Eal,
                    format!(
                        "USERSPACE_OPTION_MEMORY_MB={mb} is more than the {budget} MiB of hugepages the pod may use"
                    ),
                ));
            }
            Memory::Hugepages(mb)
        }
    })
}

/// The SDK's command line for this view with the options applied, after the conflict check.
pub(crate) fn build(v: &UserspaceView, testpmd: TestpmdOptions) -> Result<EalArgs> {
    let blocking: Vec<String> = v
        .pod
        .conflicts
        .iter()
        .filter(|c| c.affects_dataplane())
        .map(|c| c.to_string())
        .collect();
    if !blocking.is_empty() && !v.options.allow_conflicts {
        return Err(Error::new(
            UserspaceStatus::Conflict,
            format!(
                "the pod's sources disagree: {}; fix the stale source, or set USERSPACE_OPTION_ALLOW_CONFLICTS to use the preferred one",
                blocking.join("; ")
            ),
        ));
    }
    let (version, _) = v.dpdk()?;
    let memory = memory(v)?;
    let mut b = v
        .pod
        .eal_builder(version, std::process::id())
        .with_memory(memory)
        .with_testpmd(testpmd);
    if let Some(p) = &v.options.file_prefix {
        b = b.with_file_prefix(p.clone());
    }
    b.build()
        .map_err(|e| Error::new(UserspaceStatus::Eal, userspace_cni_sdk::error_chain(&e)))
}

fn testpmd_options(v: &UserspaceView) -> TestpmdOptions {
    TestpmdOptions {
        nb_cores: v.options.workers,
        queues: v.options.queues.unwrap_or(1),
        ..TestpmdOptions::default()
    }
}

/// The words `program EAL… [extra EAL…] -- [extra app…]`.
fn app_words(eal: &EalArgs, program: &str, extra: &[String]) -> Vec<String> {
    let (extra_eal, extra_app) = match extra.iter().position(|w| w == "--") {
        Some(i) => (&extra[..i], &extra[i + 1..]),
        None => (&[][..], extra),
    };
    let mut w = Vec::with_capacity(eal.eal.len() + extra.len() + 2);
    w.push(program.to_owned());
    w.extend(eal.eal.iter().cloned());
    w.extend(extra_eal.iter().cloned());
    w.push("--".to_owned());
    w.extend(extra_app.iter().cloned());
    w
}

/// Reads `argc` C strings.
///
/// # Safety
/// `argv` must hold `argc` valid strings (or be NULL with `argc` 0).
unsafe fn read_argv(argc: c_int, argv: *const *mut c_char) -> Result<Vec<String>> {
    let n = usize::try_from(argc)
        .map_err(|_| Error::invalid(format!("extra_argc is {argc}, less than 0")))?;
    if n == 0 {
        return Ok(Vec::new());
    }
    if argv.is_null() {
        return Err(Error::null("extra_argv (with extra_argc > 0)"));
    }
    (0..n)
        .map(|i| {
            // SAFETY: the caller promises `argv` holds `argc` pointers.
            let p = unsafe { *argv.add(i) };
            if p.is_null() {
                return Err(Error::null(&format!("extra_argv[{i}]")));
            }
            // SAFETY: the caller promises each is a valid string.
            unsafe { CStr::from_ptr(p) }
                .to_str()
                .map(str::to_owned)
                .map_err(|_| Error::invalid(format!("extra_argv[{i}] is not UTF-8")))
        })
        .collect()
}

/// The arguments for the program's own `rte_eal_init(argc, argv)`: `program`, the EAL options
/// for this pod (cores from the usable CPUs, memory, `--file-prefix`, one device per
/// interface in interface order, `--no-pci` or the PCI allow list, spelled for the DPDK
/// version), then `--` and the program's own arguments.
///
/// `extra_argv` (`extra_argc` words, may be NULL when 0) is typically `argv + 1` of `main`:
/// without a `--` among them all are the program's own arguments; with one, the words before
/// it are added to the EAL options (`--log-level=8 -- -p 3`). After `n = rte_eal_init(...)`,
/// `argv + n` is the program name followed by its own arguments, as in DPDK's examples.
///
/// Refuses with `USERSPACE_STATUS_CONFLICT` when sources disagree about a data-plane fact
/// (unless `USERSPACE_OPTION_ALLOW_CONFLICTS`), `USERSPACE_STATUS_DPDK_VERSION` when the
/// version cannot be told, `USERSPACE_STATUS_EAL` when no line can be made (no interfaces…).
/// On success `*out` is owned by the caller (`userspace_args_free`); on failure NULL.
///
/// # Safety
/// `view` NULL or live; `program` NULL or a valid string; `extra_argv` as said; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userspace_eal_args(
    view: *const UserspaceView,
    program: *const c_char,
    extra_argc: c_int,
    extra_argv: *const *mut c_char,
    out: *mut *mut UserspaceArgs,
) -> UserspaceStatus {
    status_call(|| {
        if out.is_null() {
            return Err(Error::null("out"));
        }
        // SAFETY: checked non-NULL; the caller promises it is writable.
        unsafe { *out = std::ptr::null_mut() };
        // SAFETY: the caller promises NULL or a live view.
        let v = unsafe { borrow(view, "view") }?;
        // SAFETY: the caller promises a valid string or NULL.
        let program =
            unsafe { crate::str_arg(program, "program") }?.ok_or_else(|| Error::null("program"))?;
        // SAFETY: the caller promises extra_argc valid strings.
        let extra = unsafe { read_argv(extra_argc, extra_argv) }?;
        let eal = build(v, testpmd_options(v))?;
        let args = UserspaceArgs::new(app_words(&eal, program, &extra));
        // SAFETY: as above.
        unsafe { *out = Box::into_raw(Box::new(args)) };
        Ok(())
    })
}

/// The whole `dpdk-testpmd` command line for this pod as one shell-quoted line (`program` NULL:
/// `dpdk-testpmd`), with testpmd's own options as `userspace-agent testpmd` gives them
/// (`--auto-start --forward-mode=io …`). `*out` is owned by the caller
/// (`userspace_string_free`).
///
/// # Safety
/// `view` NULL or live; `program` NULL or a valid string; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userspace_testpmd_line(
    view: *const UserspaceView,
    program: *const c_char,
    out: *mut *mut c_char,
) -> UserspaceStatus {
    status_call(|| {
        // SAFETY: the caller promises NULL or a live view.
        let v = unsafe { borrow(view, "view") }?;
        // SAFETY: the caller promises a valid string or NULL.
        let program = unsafe { crate::str_arg(program, "program") }?.unwrap_or("dpdk-testpmd");
        let eal = build(v, testpmd_options(v))?;
        // SAFETY: the caller promises `out` is writable.
        unsafe { give_string(out, &eal.shell_line(program)) }
    })
}

/// The memory the EAL arguments will ask for: `*mb` MiB, from hugepages when `*hugepages`
/// (else `--no-huge`). Either pointer may be NULL. `USERSPACE_STATUS_EAL` when the options
/// ask for more than the pod has.
///
/// # Safety
/// `view` NULL or live; `mb` and `hugepages` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userspace_view_memory(
    view: *const UserspaceView,
    mb: *mut u64,
    hugepages: *mut bool,
) -> UserspaceStatus {
    status_call(|| {
        // SAFETY: the caller promises NULL or a live view.
        let v = unsafe { borrow(view, "view") }?;
        let m = memory(v)?;
        // SAFETY: NULL or writable, as the caller promises.
        if let Some(o) = unsafe { mb.as_mut() } {
            *o = m.mb();
        }
        // SAFETY: as above.
        if let Some(o) = unsafe { hugepages.as_mut() } {
            *o = matches!(m, Memory::Hugepages(_));
        }
        Ok(())
    })
}

/// `argc`: the number of words, program name included (0 for NULL).
///
/// # Safety
/// `args` must be NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userspace_args_argc(args: *const UserspaceArgs) -> c_int {
    value_call(0, || {
        // SAFETY: the caller promises NULL or a live handle.
        let a = unsafe { borrow(args, "args") }?;
        c_int::try_from(a.words.len()).map_err(|_| Error::invalid("too many words for an int"))
    })
}

/// `argv`: `argc` pointers then NULL, as `main` gets it. Owned by `args`: pass it to
/// `rte_eal_init` (which may reorder the pointers) and keep `args` until the program no longer
/// uses `argv` (DPDK keeps pointers to some words). NULL for NULL.
///
/// # Safety
/// `args` must be NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userspace_args_argv(args: *mut UserspaceArgs) -> *mut *mut c_char {
    value_call(std::ptr::null_mut(), || {
        // SAFETY: the caller promises NULL or a live handle, not used elsewhere meanwhile.
        let a = unsafe { args.as_mut() }.ok_or_else(|| Error::null("args"))?;
        Ok(a.argv.as_mut_ptr())
    })
}

/// The words as one line that a POSIX shell splits back into them (for logs). Borrowed from
/// `args`; in the original order even after `rte_eal_init` reordered `argv`.
///
/// # Safety
/// `args` must be NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userspace_args_line(args: *const UserspaceArgs) -> *const c_char {
    value_call(std::ptr::null(), || {
        // SAFETY: the caller promises NULL or a live handle.
        let a = unsafe { borrow(args, "args") }?;
        Ok(a.line.as_ptr())
    })
}

/// Frees an argument vector and its words. NULL is ignored.
///
/// # Safety
/// `args` must be NULL or from `userspace_eal_args`, not freed before.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userspace_args_free(args: *mut UserspaceArgs) {
    value_call((), || {
        if !args.is_null() {
            // SAFETY: made by Box::into_raw in userspace_eal_args.
            drop(unsafe { Box::from_raw(args) });
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_words_before_a_double_dash_are_eal_options() {
        let eal = EalArgs {
            eal: vec!["-l".into(), "0".into()],
            app: vec!["--auto-start".into()],
        };
        let w = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            app_words(&eal, "app", &w(&["-p", "3"])),
            w(&["app", "-l", "0", "--", "-p", "3"])
        );
        assert_eq!(
            app_words(&eal, "app", &w(&["--log-level=8", "--", "-p", "3"])),
            w(&["app", "-l", "0", "--log-level=8", "--", "-p", "3"])
        );
        assert_eq!(app_words(&eal, "app", &[]), w(&["app", "-l", "0", "--"]));
    }

    #[test]
    fn argv_is_null_terminated_and_points_at_the_words() {
        let a = UserspaceArgs::new(vec!["x".into(), "a b".into()]);
        assert_eq!(a.argv.len(), 3);
        assert!(a.argv[2].is_null());
        // SAFETY: the pointers point into `a.words`, alive here.
        let second = unsafe { CStr::from_ptr(a.argv[1]) };
        assert_eq!(second.to_str().ok(), Some("a b"));
        assert_eq!(a.line.to_str().ok(), Some("x 'a b'"));
    }
}
