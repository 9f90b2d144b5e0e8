//! C ABI (being written)
