//! Limits the kernel sets on what the plugin and the pod name.

/// Longest path a unix socket address can hold: `sun_path` in `struct sockaddr_un` is 108
/// bytes on Linux, and the path needs its terminating NUL.
pub const MAX_SOCKET_PATH: usize = 107;
