//! The socket transport's framing: every message is a 16-byte header and the body. Of the
//! header VPP reads only bytes 8..12, the body length, big-endian; the first 8 bytes are a
//! pointer VPP may fill with garbage in replies, the last 4 a timestamp. Both are sent as zero.

/// Header length.
pub const HEADER_LEN: usize = 16;

/// Largest body accepted from the peer. VPP's biggest message here is the handshake reply:
/// 66 bytes per message name, a few thousand names.
pub const MAX_BODY: usize = 16 * 1024 * 1024;

/// Framing failures.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// A length no VPP message has.
    #[error("frame of {0} bytes exceeds the {MAX_BODY}-byte limit: not a VPP API stream")]
    TooLong(usize),
    /// A body too short to hold a message id.
    #[error("frame of {0} bytes is too short to hold a message id")]
    TooShort(usize),
}

/// Frames a body for sending.
pub fn frame(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    out.extend_from_slice(&[0u8; 8]);
    let len = u32::try_from(body.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&[0u8; 4]);
    out.extend_from_slice(body);
    out
}

/// Reassembles frames from a byte stream read in arbitrary pieces.
#[derive(Debug, Default)]
pub struct FrameDecoder {
    buf: Vec<u8>,
}

impl FrameDecoder {
    /// Appends bytes read from the socket.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete body, if one is buffered.
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        if self.buf.len() < HEADER_LEN {
            return Ok(None);
        }
        let mut len = [0u8; 4];
        len.copy_from_slice(&self.buf[8..12]);
        let len = u32::from_be_bytes(len) as usize;
        if len > MAX_BODY {
            return Err(FrameError::TooLong(len));
        }
        if len < 2 {
            return Err(FrameError::TooShort(len));
        }
        if self.buf.len() < HEADER_LEN + len {
            return Ok(None);
        }
        let body = self.buf[HEADER_LEN..HEADER_LEN + len].to_vec();
        self.buf.drain(..HEADER_LEN + len);
        Ok(Some(body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_carries_the_body_length_big_endian_between_zeroes() {
        let f = frame(&[0xaa; 0x0102]);
        assert_eq!(&f[..16], &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0]);
        assert_eq!(f.len(), 16 + 0x0102);
    }

    #[test]
    fn frames_split_across_reads_are_reassembled_and_garbage_header_bytes_ignored() {
        let mut a = frame(b"\x00\x10hello");
        a[0..8].copy_from_slice(&[0xde; 8]);
        let b = frame(b"\x00\x11world!");
        let stream: Vec<u8> = a.iter().chain(b.iter()).copied().collect();
        let mut d = FrameDecoder::default();
        let mut got = Vec::new();
        for byte in stream {
            d.push(&[byte]);
            while let Some(f) = d.next_frame().unwrap() {
                got.push(f);
            }
        }
        assert_eq!(
            got,
            vec![b"\x00\x10hello".to_vec(), b"\x00\x11world!".to_vec()]
        );
    }

    #[test]
    fn an_absurd_length_is_refused_before_buffering() {
        let mut d = FrameDecoder::default();
        d.push(&[0, 0, 0, 0, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
        assert_eq!(d.next_frame(), Err(FrameError::TooLong(0x7fff_ffff)));
    }
}
