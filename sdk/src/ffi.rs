//! C ABI: the same discovery and command line for DPDK programs written in C.
//!
//! ```c
//! char *line = userspace_testpmd_line("dpdk-testpmd");
//! if (!line) { fprintf(stderr, "%s\n", userspace_last_error()); return 1; }
//! puts(line);
//! userspace_string_free(line);
//! ```
//! Inputs are found as [`Locations::from_env`] says. Returned strings are owned by the caller
//! and freed with [`userspace_string_free`]; the error string is owned by the library and valid
//! until the next call on the same thread.
#![allow(unsafe_code)]

use std::cell::RefCell;
use std::ffi::{CStr, CString, c_char};

use crate::discovery::{Locations, PodView};
use crate::dpdk::DpdkInstall;

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

fn set_error(msg: String) {
    let c = CString::new(msg.replace('\0', " ")).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = c);
}

fn to_c(result: Result<String, String>) -> *mut c_char {
    match result.and_then(|s| CString::new(s).map_err(|e| e.to_string())) {
        Ok(c) => c.into_raw(),
        Err(e) => {
            set_error(e);
            std::ptr::null_mut()
        }
    }
}

/// The EAL + testpmd arguments for this pod as one shell-quoted line, `program` first (NULL:
/// the detected testpmd). NULL on error, see [`userspace_last_error`].
///
/// # Safety
/// `program` must be NULL or a valid NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userspace_testpmd_line(program: *const c_char) -> *mut c_char {
    let program = if program.is_null() {
        None
    } else {
        // SAFETY: the caller promises a valid C string.
        Some(
            unsafe { CStr::from_ptr(program) }
                .to_string_lossy()
                .into_owned(),
        )
    };
    to_c(testpmd_line(program))
}

fn testpmd_line(program: Option<String>) -> Result<String, String> {
    let view = PodView::discover(&Locations::from_env()).map_err(|e| e.to_string())?;
    let path = std::env::var_os("PATH");
    let dpdk = DpdkInstall::detect(path.as_deref()).map_err(|e| e.to_string())?;
    let args = view
        .eal_builder(dpdk.version, std::process::id())
        .build()
        .map_err(|e| e.to_string())?;
    let program = program.unwrap_or_else(|| dpdk.testpmd.to_string_lossy().into_owned());
    Ok(args.shell_line(&program))
}

/// The whole pod view (interfaces with sources, resources, conflicts) as JSON. NULL on error.
#[unsafe(no_mangle)]
pub extern "C" fn userspace_view_json() -> *mut c_char {
    to_c(
        PodView::discover(&Locations::from_env())
            .map_err(|e| e.to_string())
            .and_then(|v| serde_json::to_string(&v).map_err(|e| e.to_string())),
    )
}

/// The last error on this thread ("" when none). Owned by the library.
#[unsafe(no_mangle)]
pub extern "C" fn userspace_last_error() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}

/// Frees a string returned by this library. NULL is ignored.
///
/// # Safety
/// `s` must be NULL or a pointer returned by this library, not freed before.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userspace_string_free(s: *mut c_char) {
    if !s.is_null() {
        // SAFETY: the pointer came from CString::into_raw in this library.
        drop(unsafe { CString::from_raw(s) });
    }
}
