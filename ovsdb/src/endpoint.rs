//! Where an OVSDB server listens, in the notation `ovs-vsctl --db` and `ovn-nbctl --db` use:
//! `unix:<path>`, `tcp:<host>:<port>`, `ssl:<host>:<port>` (IPv6 hosts in brackets).

use std::path::PathBuf;

use crate::Error;

/// An endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// `unix:/path/to/db.sock` (a bare absolute path is accepted too).
    Unix(PathBuf),
    /// `tcp:host:port`.
    Tcp(String),
    /// `ssl:host:port`: TLS with the client's key, certificate and the CA that signed the
    /// server's certificate ([`crate::TlsFiles`]).
    Ssl(String),
}

impl Endpoint {
    /// Parses the notation.
    pub fn parse(s: &str) -> Result<Self, Error> {
        let bad = || Error::BadEndpoint(s.to_owned());
        if let Some(p) = s.strip_prefix("unix:") {
            return if p.is_empty() {
                Err(bad())
            } else {
                Ok(Self::Unix(PathBuf::from(p)))
            };
        }
        if s.starts_with('/') {
            return Ok(Self::Unix(PathBuf::from(s)));
        }
        let host_port = |rest: &str| -> Result<String, Error> {
            let (host, port) = rest.rsplit_once(':').ok_or_else(bad)?;
            let host = host
                .strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .map_or(host.to_owned(), |h| format!("[{h}]"));
            if host.is_empty() || port.parse::<u16>().is_err() {
                return Err(bad());
            }
            Ok(format!("{host}:{port}"))
        };
        if let Some(rest) = s.strip_prefix("tcp:") {
            return host_port(rest).map(Self::Tcp);
        }
        if let Some(rest) = s.strip_prefix("ssl:") {
            return host_port(rest).map(Self::Ssl);
        }
        Err(bad())
    }

    /// The host an `ssl:` endpoint names (for TLS' server name).
    pub(crate) fn host(&self) -> Option<&str> {
        match self {
            Self::Unix(_) => None,
            Self::Tcp(a) | Self::Ssl(a) => a
                .rsplit_once(':')
                .map(|(h, _)| h.trim_start_matches('[').trim_end_matches(']')),
        }
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unix(p) => write!(f, "unix:{}", p.display()),
            Self::Tcp(a) => write!(f, "tcp:{a}"),
            Self::Ssl(a) => write!(f, "ssl:{a}"),
        }
    }
}

impl std::str::FromStr for Endpoint {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_notations_parse_and_print_back() {
        for s in [
            "unix:/var/run/ovn/ovnnb_db.sock",
            "tcp:127.0.0.1:6641",
            "ssl:ovn-central:6641",
            "tcp:[::1]:6640",
        ] {
            assert_eq!(Endpoint::parse(s).unwrap().to_string(), s);
        }
        assert_eq!(
            Endpoint::parse("/run/openvswitch/db.sock").unwrap(),
            Endpoint::Unix("/run/openvswitch/db.sock".into())
        );
        assert_eq!(
            Endpoint::parse("ssl:[fd00::1]:6641").unwrap().host(),
            Some("fd00::1")
        );
    }

    #[test]
    fn anything_else_is_refused_with_the_notation() {
        for s in [
            "",
            "unix:",
            "tcp:6641",
            "tcp:host:port",
            "ptcp:6641",
            "db.sock",
        ] {
            let e = Endpoint::parse(s).unwrap_err();
            assert!(e.to_string().contains("tcp:<host>:<port>"), "{s}: {e}");
        }
    }
}
