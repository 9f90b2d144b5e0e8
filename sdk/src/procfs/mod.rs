//! Readers for the few `/proc` files the SDK needs. Every reader takes the proc root as a
//! parameter so that tests and users can point it at a fixture tree.

pub mod cgroup;
pub mod mountinfo;
pub mod status;
