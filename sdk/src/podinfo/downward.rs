//! The downward-API file format: one `key="value"` per line, keys sorted, values quoted as
//! Go's `strconv.Quote` does (`%q`), no trailing newline.

use std::collections::BTreeMap;

/// A line that is not `key="go-quoted value"`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line} (key {key:?}): {reason}")]
pub struct DownwardError {
    /// 1-based line.
    pub line: usize,
    /// The key, as far as it was read.
    pub key: String,
    /// What is wrong, with the column when it is about an escape.
    pub reason: String,
}

/// Parses a downward-API file. A trailing newline is tolerated.
pub fn parse(text: &str) -> Result<BTreeMap<String, String>, DownwardError> {
    let mut map = BTreeMap::new();
    for (i, line) in text.split('\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        let err = |key: &str, reason: String| DownwardError {
            line: i + 1,
            key: key.to_owned(),
            reason,
        };
        let (key, quoted) = line
            .split_once('=')
            .ok_or_else(|| err("", "expected key=\"value\"".into()))?;
        let value = unquote(quoted)
            .map_err(|(col, r)| err(key, format!("{r} at column {}", key.len() + 1 + col + 1)))?;
        map.insert(key.to_owned(), value);
    }
    Ok(map)
}

/// Decodes one Go-quoted string (with its quotes). Errors carry the 0-based column.
pub fn unquote(q: &str) -> Result<String, (usize, String)> {
    let b = q.as_bytes();
    if b.len() < 2 || b[0] != b'"' || b[b.len() - 1] != b'"' {
        return Err((0, "value is not a double-quoted string".into()));
    }
    let body = &b[1..b.len() - 1];
    let mut out: Vec<u8> = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        let c = body[i];
        match c {
            b'"' => return Err((i + 1, "unescaped '\"' inside the value".into())),
            b'\\' => {
                let col = i + 1;
                let e = *body.get(i + 1).ok_or((col, "dangling '\\'".to_owned()))?;
                i += 2;
                let simple = match e {
                    b'a' => Some(0x07),
                    b'b' => Some(0x08),
                    b'f' => Some(0x0c),
                    b'n' => Some(b'\n'),
                    b'r' => Some(b'\r'),
                    b't' => Some(b'\t'),
                    b'v' => Some(0x0b),
                    b'\\' => Some(b'\\'),
                    b'"' => Some(b'"'),
                    b'\'' => Some(b'\''),
                    _ => None,
                };
                if let Some(v) = simple {
                    out.push(v);
                    continue;
                }
                let mut hex = |n: usize| -> Result<u32, (usize, String)> {
                    let digits = body
                        .get(i..i + n)
                        .ok_or((col, format!("short \\{} escape", e as char)))?;
                    let s = std::str::from_utf8(digits)
                        .map_err(|_| (col, "bad escape digits".to_owned()))?;
                    let v = u32::from_str_radix(s, 16).map_err(|_| {
                        (
                            col,
                            format!("bad hex digits {s:?} in \\{} escape", e as char),
                        )
                    })?;
                    i += n;
                    Ok(v)
                };
                match e {
                    b'x' => out.push(
                        u8::try_from(hex(2)?).map_err(|_| (col, "bad \\x escape".to_owned()))?,
                    ),
                    b'u' | b'U' => {
                        let v = hex(if e == b'u' { 4 } else { 8 })?;
                        let ch = char::from_u32(v).ok_or((
                            col,
                            format!("\\{}{v:x} is not a Unicode scalar value", e as char),
                        ))?;
                        let mut buf = [0u8; 4];
                        out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                    }
                    b'0'..=b'7' => {
                        let digits = body
                            .get(i - 1..i + 2)
                            .ok_or((col, "short octal escape".to_owned()))?;
                        let mut v: u32 = 0;
                        for d in digits {
                            if !(b'0'..=b'7').contains(d) {
                                return Err((col, "bad octal escape".into()));
                            }
                            v = v * 8 + u32::from(d - b'0');
                        }
                        out.push(
                            u8::try_from(v)
                                .map_err(|_| (col, "octal escape above \\377".to_owned()))?,
                        );
                        i += 2;
                    }
                    other => return Err((col, format!("unknown escape \\{}", other as char))),
                }
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| (0, "the decoded value is not valid UTF-8".into()))
}

/// Quotes like Go's `strconv.Quote`.
pub fn quote(value: &str) -> String {
    let mut s = String::with_capacity(value.len() + 2);
    s.push('"');
    for c in value.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\x07' => s.push_str("\\a"),
            '\x08' => s.push_str("\\b"),
            '\x0c' => s.push_str("\\f"),
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            '\t' => s.push_str("\\t"),
            '\x0b' => s.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                s.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if is_printable(c) => s.push(c),
            c if (c as u32) < 0x10000 => s.push_str(&format!("\\u{:04x}", c as u32)),
            c => s.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    s.push('"');
    s
}

/// An approximation of Go's `unicode.IsPrint`: graphic characters and the ASCII space.
fn is_printable(c: char) -> bool {
    c == ' ' || !(c.is_control() || c.is_whitespace() || ('\u{80}'..='\u{9f}').contains(&c))
}

/// Renders a map as the kubelet writes it.
pub fn render(map: &BTreeMap<String, String>) -> String {
    map.iter()
        .map(|(k, v)| format!("{k}={}", quote(v)))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const FIXTURE: &str = include_str!("../../tests/fixtures/podinfo/annotations");

    #[test]
    fn the_fixture_decodes_json_newlines_tabs_unicode_and_backslashes() {
        let m = parse(FIXTURE).unwrap();
        let data = &m["userspace/configuration-data"];
        assert!(data.starts_with("[{\"containerId\":\""));
        assert_eq!(m["userspace/mapped-dir"], "/var/lib/cni/usrspcni/");
        assert_eq!(
            m["example.com/notes"],
            "line one\n\tindented \"quoted\" caf\u{e9} C:\\path \u{1F600}"
        );
        assert!(
            serde_json::from_str::<serde_json::Value>(&m["k8s.v1.cni.cncf.io/network-status"])
                .is_ok()
        );
    }

    #[test]
    fn every_go_escape_is_decoded() {
        assert_eq!(
            unquote(r#""\a\b\f\n\r\t\v\\\"\x41\u00e9\U0001f600\101""#).unwrap(),
            "\x07\x08\x0c\n\r\t\x0b\\\"A\u{e9}\u{1F600}A"
        );
    }

    #[test]
    fn an_unknown_escape_names_line_key_and_column() {
        let e = parse("a=\"ok\"\nkey=\"bad\\q\"").unwrap_err();
        assert_eq!((e.line, e.key.as_str()), (2, "key"));
        assert!(
            e.reason.contains("unknown escape \\q at column 9"),
            "{}",
            e.reason
        );
    }

    #[test]
    fn unterminated_and_unquoted_values_are_errors() {
        assert!(parse("k=\"open").is_err());
        assert!(parse("k=bare").is_err());
        assert!(parse("no-equals").is_err());
    }

    #[test]
    fn a_trailing_newline_is_tolerated() {
        assert_eq!(parse("a=\"1\"\n").unwrap()["a"], "1");
    }

    #[test]
    fn quote_matches_go_for_controls_and_non_printables() {
        assert_eq!(
            quote("a\u{1}\u{7f}\u{85}\u{2028}é"),
            r#""a\x01\x7f\u0085\u2028é""#
        );
    }

    proptest! {
        #[test]
        fn render_then_parse_is_the_identity(map in proptest::collection::btree_map("[a-z0-9./-]{1,20}", any::<String>(), 0..6)) {
            prop_assert_eq!(parse(&render(&map)).unwrap(), map);
        }
    }
}
