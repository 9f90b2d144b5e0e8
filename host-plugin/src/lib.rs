//! The `userspace` CNI plugin as a library, so that every verb can be tested in-process.
#![deny(missing_docs)]

pub mod ovs;
