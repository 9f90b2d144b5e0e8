//! # userspace-cni-sdk-ffi: the SDK's C API
//!
//! `libuserspace_cni.so` / `libuserspace_cni.a` and the header `include/userspace_cni.h`
//! (generated from this crate by cbindgen; `tests/header.rs` fails when it is stale). A DPDK
//! program written in C opens the pod view, reads the interfaces and resources, and takes its
//! `rte_eal_init` arguments from it:
//!
//! ```c
//! userspace_view *view;
//! if (userspace_view_open(NULL, &view) != USERSPACE_STATUS_OK) {
//!     fprintf(stderr, "%s\n", userspace_last_error());
//!     return 1;
//! }
//! userspace_args *args;
//! if (userspace_eal_args(view, argv[0], argc - 1, argv + 1, &args) != USERSPACE_STATUS_OK) { … }
//! int n = rte_eal_init(userspace_args_argc(args), userspace_args_argv(args));
//! ```
//!
//! ## Conventions
//!
//! - **Versioning.** `USERSPACE_CNI_ABI_VERSION` is the ABI the header describes;
//!   `userspace_abi_version` the one the loaded library implements. They differ only when a
//!   program runs against a library built for another header: compare them at start. Within one
//!   ABI version, functions and enum values are only added, never changed or removed.
//! - **Handles.** Every object is an opaque pointer made by a `*_new` / `*_open` / producing
//!   function and released by its `*_free` function (`NULL` is accepted by every `*_free`).
//!   Interfaces and conflicts are *borrowed* from their view: valid until `userspace_view_free`,
//!   never freed on their own.
//! - **Strings.** `const char *` results are borrowed from the handle they came from and valid
//!   until it is freed. `char **out` results are owned by the caller and released with
//!   `userspace_string_free`. All strings are UTF-8 and NUL-terminated; a NUL inside a value
//!   (possible only in annotation JSON) is replaced by a space.
//! - **Errors.** Functions that can fail return a `UserspaceStatus`. Accessors return their
//!   value directly; given a NULL handle or an index out of range they return NULL / 0 / -1 /
//!   `*_UNKNOWN` and record the error. Either way `userspace_last_error` and
//!   `userspace_last_status` tell the last failure *on the calling thread* (a successful
//!   status-returning call clears them; a successful accessor leaves them as they were).
//! - **No panic crosses the boundary.** Every entry point catches a Rust panic and turns it into
//!   `UserspaceStatus::Panic` (or the accessor's "nothing" value) with the panic message in
//!   `userspace_last_error`. This needs the library built with `panic = "unwind"`, the default.
//! - **No fixed-size limits.** Every list is a count and an accessor by index.
//! - **Threads.** A view is read-only once open and may be used from several threads at once;
//!   options and argument vectors belong to one thread at a time.
#![deny(missing_docs)]
#![allow(unsafe_code)] // this crate is the C boundary; each unsafe block says why it is sound
#![allow(clippy::missing_safety_doc)] // each function's doc has a "Safety" paragraph where it matters

mod args;
mod dpdk;
mod options;
mod report;
mod view;

use std::cell::RefCell;
use std::ffi::{CStr, CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};

pub use args::*;
pub use options::*;
pub use view::*;

/// The C API version this header describes. Bumped when a function or type changes
/// incompatibly; additions keep it.
pub const USERSPACE_CNI_ABI_VERSION: u32 = 1;

/// What a status-returning function reports. `USERSPACE_STATUS_OK` is 0; every other value is a
/// failure whose message is in `userspace_last_error`.
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserspaceStatus {
    /// Success.
    Ok = 0,
    /// A pointer argument that must not be NULL was NULL.
    NullArgument = 1,
    /// An argument is out of range or malformed: an index, an option number, a value that does
    /// not parse, a string that is not UTF-8.
    InvalidArgument = 2,
    /// A source of the pod view exists but cannot be read or is malformed (annotations,
    /// `PCIDEVICE_*`, the shared directory, cgroup or sysfs files); the message names it.
    Discovery = 3,
    /// The DPDK version could not be told (set `USERSPACE_OPTION_DPDK_VERSION`, e.g. from
    /// `rte_version()`), or is older than the oldest release supported.
    DpdkVersion = 4,
    /// No EAL command line can be made for this pod: no interfaces, an interface without its
    /// socket / PCI address, a path DPDK cannot carry, too little memory, no CPU.
    Eal = 5,
    /// The pod's sources disagree about a fact that changes how DPDK attaches (socket, role,
    /// kind, MAC…). Fix the stale source or set `USERSPACE_OPTION_ALLOW_CONFLICTS`.
    Conflict = 6,
    /// A bug in the library: it panicked. The message has the panic text; the handles passed
    /// in are unchanged and may still be freed.
    Panic = 7,
}

impl UserspaceStatus {
    fn describe(self) -> &'static CStr {
        match self {
            Self::Ok => c"ok",
            Self::NullArgument => c"null argument",
            Self::InvalidArgument => c"invalid argument",
            Self::Discovery => c"pod discovery failed",
            Self::DpdkVersion => c"DPDK version unknown or unsupported",
            Self::Eal => c"no EAL command line for this pod",
            Self::Conflict => c"the pod's sources disagree",
            Self::Panic => c"internal error (panic)",
        }
    }

    fn from_i32(v: i32) -> Option<Self> {
        Some(match v {
            0 => Self::Ok,
            1 => Self::NullArgument,
            2 => Self::InvalidArgument,
            3 => Self::Discovery,
            4 => Self::DpdkVersion,
            5 => Self::Eal,
            6 => Self::Conflict,
            7 => Self::Panic,
            _ => return None,
        })
    }
}

/// A failure inside the library: a status and its message.
#[derive(Debug, Clone)]
pub(crate) struct Error {
    pub(crate) status: UserspaceStatus,
    pub(crate) message: String,
}

impl Error {
    pub(crate) fn new(status: UserspaceStatus, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    pub(crate) fn null(what: &str) -> Self {
        Self::new(
            UserspaceStatus::NullArgument,
            format!("{what} must not be NULL"),
        )
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(UserspaceStatus::InvalidArgument, message)
    }
}

pub(crate) type Result<T> = std::result::Result<T, Error>;

struct LastError {
    status: UserspaceStatus,
    message: CString,
}

thread_local! {
    static LAST_ERROR: RefCell<LastError> = RefCell::new(LastError {
        status: UserspaceStatus::Ok,
        message: CString::default(),
    });
}

fn record(status: UserspaceStatus, message: &str) {
    let message = cstring(message);
    // try_with: a call from a thread-local destructor after ours is gone records nothing.
    let _ = LAST_ERROR.try_with(|e| {
        if let Ok(mut e) = e.try_borrow_mut() {
            *e = LastError { status, message };
        }
    });
}

/// A Rust string as a C string; NULs inside become spaces.
pub(crate) fn cstring(s: &str) -> CString {
    CString::new(s.replace('\0', " ")).unwrap_or_default()
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_owned()
    }
}

/// Runs a status-returning entry point: a panic or an `Err` is recorded and turned into its
/// status; success clears the last error.
pub(crate) fn status_call(f: impl FnOnce() -> Result<()>) -> UserspaceStatus {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => {
            record(UserspaceStatus::Ok, "");
            UserspaceStatus::Ok
        }
        Ok(Err(e)) => {
            record(e.status, &e.message);
            e.status
        }
        Err(p) => {
            let msg = format!("internal error (panic): {}", panic_message(&*p));
            record(UserspaceStatus::Panic, &msg);
            UserspaceStatus::Panic
        }
    }
}

/// Runs an accessor: an `Err` or a panic is recorded and `fallback` returned; success leaves
/// the last error alone.
pub(crate) fn value_call<T>(fallback: T, f: impl FnOnce() -> Result<T>) -> T {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => {
            record(e.status, &e.message);
            fallback
        }
        Err(p) => {
            let msg = format!("internal error (panic): {}", panic_message(&*p));
            record(UserspaceStatus::Panic, &msg);
            fallback
        }
    }
}

/// Borrows a handle, or fails with `NullArgument` naming it.
///
/// # Safety
/// `p` must be NULL or point to a live `T` made by this library.
pub(crate) unsafe fn borrow<'a, T>(p: *const T, what: &str) -> Result<&'a T> {
    // SAFETY: the caller promises `p` is NULL or valid; NULL is checked.
    unsafe { p.as_ref() }.ok_or_else(|| Error::null(what))
}

/// Reads a C string argument as UTF-8.
///
/// # Safety
/// `p` must be NULL or a valid NUL-terminated string.
pub(crate) unsafe fn str_arg<'a>(p: *const c_char, what: &str) -> Result<Option<&'a str>> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: the caller promises a valid NUL-terminated string.
    let s = unsafe { CStr::from_ptr(p) };
    s.to_str()
        .map(Some)
        .map_err(|_| Error::invalid(format!("{what} is not UTF-8")))
}

/// Hands a string to the caller (freed with `userspace_string_free`).
///
/// # Safety
/// `out` must be NULL or writable.
pub(crate) unsafe fn give_string(out: *mut *mut c_char, s: &str) -> Result<()> {
    if out.is_null() {
        return Err(Error::null("out"));
    }
    // SAFETY: checked non-NULL; the caller promises it is writable.
    unsafe { *out = cstring(s).into_raw() };
    Ok(())
}

/// The C API version the loaded library implements (compare with the header's
/// `USERSPACE_CNI_ABI_VERSION`).
#[unsafe(no_mangle)]
pub extern "C" fn userspace_abi_version() -> u32 {
    USERSPACE_CNI_ABI_VERSION
}

/// The library's release (`0.1.0`). Static; never freed.
#[unsafe(no_mangle)]
pub extern "C" fn userspace_library_version() -> *const c_char {
    const V: &CStr =
        match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
            Ok(v) => v,
            Err(_) => c"unknown",
        };
    V.as_ptr()
}

/// The message of the last failure on this thread ("" when the last status-returning call
/// succeeded). Owned by the library; valid until the next call into it on this thread.
#[unsafe(no_mangle)]
pub extern "C" fn userspace_last_error() -> *const c_char {
    LAST_ERROR
        .try_with(|e| e.try_borrow().map(|e| e.message.as_ptr()).ok())
        .ok()
        .flatten()
        .unwrap_or(c"".as_ptr())
}

/// The status of the last failure on this thread (`USERSPACE_STATUS_OK` when the last
/// status-returning call succeeded).
#[unsafe(no_mangle)]
pub extern "C" fn userspace_last_status() -> UserspaceStatus {
    LAST_ERROR
        .try_with(|e| e.try_borrow().map(|e| e.status).ok())
        .ok()
        .flatten()
        .unwrap_or(UserspaceStatus::Ok)
}

/// A short English description of a status value ("null argument"…), or "unknown status".
/// Static; never freed.
#[unsafe(no_mangle)]
pub extern "C" fn userspace_status_describe(status: i32) -> *const c_char {
    UserspaceStatus::from_i32(status)
        .map_or(c"unknown status", UserspaceStatus::describe)
        .as_ptr()
}

/// Frees a string that this library handed over through a `char **out` argument. NULL is
/// ignored.
///
/// # Safety
/// `s` must be NULL or a string returned that way and not freed before.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userspace_string_free(s: *mut c_char) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        if !s.is_null() {
            // SAFETY: the pointer came from CString::into_raw in `give_string`.
            drop(unsafe { CString::from_raw(s) });
        }
    }));
}

/// Panics inside the library's guard, to test from C that a panic becomes
/// `USERSPACE_STATUS_PANIC`. Not in the header: not part of the API.
#[doc(hidden)]
#[unsafe(no_mangle)]
pub extern "C" fn userspace_internal_test_panic() -> UserspaceStatus {
    status_call(|| panic!("userspace_internal_test_panic was called"))
}
