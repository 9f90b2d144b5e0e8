//! CNI errors: a code from the spec, a message, details; rendered once, at the edge.

use std::fmt;

/// Error codes defined by the CNI specification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// 1: the config's cniVersion is not supported.
    IncompatibleVersion = 1,
    /// 2: a field of the network config is not supported.
    UnsupportedField = 2,
    /// 3: the container is unknown or does not exist.
    UnknownContainer = 3,
    /// 4: a required environment variable is missing or invalid.
    InvalidEnv = 4,
    /// 5: an I/O failure.
    Io = 5,
    /// 6: stdin could not be decoded.
    Decode = 6,
    /// 7: the network config is invalid.
    InvalidConfig = 7,
    /// 11: a transient failure; the runtime should try again later.
    TryAgainLater = 11,
    /// 50: STATUS: the plugin cannot serve ADDs now.
    NotAvailable = 50,
    /// 100: an error of this plugin (first code of the plugin-specific range).
    Internal = 100,
}

/// A failure reported to the runtime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CniError {
    /// The code.
    pub code: ErrorCode,
    /// A short message.
    pub msg: String,
    /// Longer details (the chain of causes).
    pub details: String,
}

impl CniError {
    /// An error without details.
    pub fn new(code: ErrorCode, msg: impl Into<String>) -> Self {
        Self {
            code,
            msg: msg.into(),
            details: String::new(),
        }
    }

    /// Adds details.
    pub fn with_details(mut self, details: impl Into<String>) -> Self {
        self.details = details.into();
        self
    }

    /// The error JSON, in the version of the config when it could be read.
    pub fn to_json(&self, cni_version: &str) -> String {
        let mut v = serde_json::json!({
            "cniVersion": cni_version,
            "code": self.code as u32,
            "msg": self.msg,
        });
        if !self.details.is_empty() {
            v["details"] = self.details.clone().into();
        }
        v.to_string()
    }
}

impl fmt::Display for CniError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (code {})", self.msg, self.code as u32)?;
        if !self.details.is_empty() {
            write!(f, ": {}", self.details)?;
        }
        Ok(())
    }
}

impl std::error::Error for CniError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_json_has_the_spec_fields_and_the_config_version() {
        let e = CniError::new(ErrorCode::TryAgainLater, "OVSDB unreachable")
            .with_details("connect: refused");
        let v: serde_json::Value = serde_json::from_str(&e.to_json("0.3.1")).unwrap();
        assert_eq!(v["cniVersion"], "0.3.1");
        assert_eq!(v["code"], 11);
        assert_eq!(v["msg"], "OVSDB unreachable");
        assert_eq!(v["details"], "connect: refused");
    }
}
