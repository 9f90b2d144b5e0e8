//! An OVSDB client (RFC 7047) for any database — `Open_vSwitch`, `OVN_Northbound`, … — over
//! `unix:`, `tcp:` and `ssl:` endpoints: typed operations whose every result is checked, and
//! `monitor` / `monitor_cond` notifications kept in a local [`Cache`]. It knows no schema beyond
//! what a caller declares (the column kinds of `update2` diffs come from `get_schema`).
#![deny(missing_docs)]

mod cache;
mod client;
mod connection;
mod endpoint;
mod error;
mod ops;
mod stream;
mod transport;
pub mod value;

pub use cache::{Cache, Row};
pub use client::{Client, MonitorRequest, check_results};
pub use connection::Connection;
pub use endpoint::Endpoint;
pub use error::Error;
pub use ops::{Condition, Function, Mutation, Mutator, Operation, Until, row};
pub use stream::StreamDecoder;
pub use transport::TlsFiles;
