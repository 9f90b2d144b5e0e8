//! Examples of the SDK; see `eal_args.rs` and `c/testpmd_line.c`.
