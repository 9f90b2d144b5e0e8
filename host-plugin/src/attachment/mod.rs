//! One attachment's state: its lock, its write-ahead journal, and the claims on the short
//! names it shares with other attachments. Nothing outside this module touches the state
//! directory.

pub mod claims;
pub mod files;
pub mod journal;
pub mod lock;

pub use crate::identity::{AttachmentId, fnv1a64};
