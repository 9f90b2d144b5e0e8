//! Field encoding of VPP API messages: big-endian integers, `bool` as one byte, fixed strings
//! NUL-padded, variable strings as a u32 length and the bytes, arrays counted by the field
//! just before them. Structs are packed: there is no padding anywhere.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A message or field that does not fit the bytes given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The bytes end before the field does.
    #[error("message truncated: {field} needs {needed} more bytes, {left} left")]
    Truncated {
        /// The field type being read.
        field: &'static str,
        /// Bytes it needs.
        needed: usize,
        /// Bytes left.
        left: usize,
    },
}

/// Appends fields to a message body.
#[derive(Debug, Default)]
pub struct Encoder {
    buf: Vec<u8>,
}

impl Encoder {
    /// The bytes so far.
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    /// Appends raw bytes.
    pub fn bytes(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }
}

/// Reads fields from a message body.
#[derive(Debug)]
pub struct Decoder<'a> {
    buf: &'a [u8],
}

impl<'a> Decoder<'a> {
    /// Reads from `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf }
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.buf.len()
    }

    /// Takes the next `n` bytes.
    pub fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], DecodeError> {
        if self.buf.len() < n {
            return Err(DecodeError::Truncated {
                field,
                needed: n,
                left: self.buf.len(),
            });
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }
}

/// A type with a wire form.
pub trait Wire: Sized {
    /// Appends the wire form.
    fn put(&self, e: &mut Encoder);
    /// Reads the wire form.
    fn get(d: &mut Decoder<'_>) -> Result<Self, DecodeError>;
}

macro_rules! int_wire {
    ($($t:ty),*) => {$(
        impl Wire for $t {
            fn put(&self, e: &mut Encoder) {
                e.bytes(&self.to_be_bytes());
            }
            fn get(d: &mut Decoder<'_>) -> Result<Self, DecodeError> {
                let b = d.take(size_of::<$t>(), stringify!($t))?;
                let mut a = [0u8; size_of::<$t>()];
                a.copy_from_slice(b);
                Ok(<$t>::from_be_bytes(a))
            }
        }
    )*};
}
int_wire!(u8, u16, u32, u64, i32);

impl Wire for bool {
    fn put(&self, e: &mut Encoder) {
        e.bytes(&[u8::from(*self)]);
    }
    fn get(d: &mut Decoder<'_>) -> Result<Self, DecodeError> {
        Ok(d.take(1, "bool")?[0] != 0)
    }
}

impl<const N: usize> Wire for [u8; N] {
    fn put(&self, e: &mut Encoder) {
        e.bytes(self);
    }
    fn get(d: &mut Decoder<'_>) -> Result<Self, DecodeError> {
        let mut a = [0u8; N];
        a.copy_from_slice(d.take(N, "byte array")?);
        Ok(a)
    }
}

/// `string name[N]`: at most N-1 bytes, NUL-padded to N. Reading stops at the first NUL (VPP
/// may leave garbage in the last byte).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FixedStr<const N: usize>(pub String);

impl<const N: usize> FixedStr<N> {
    /// Wraps a string (cut to N-1 bytes on a character boundary when encoded).
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
}

impl<const N: usize> Wire for FixedStr<N> {
    fn put(&self, e: &mut Encoder) {
        let mut end = self.0.len().min(N.saturating_sub(1));
        while !self.0.is_char_boundary(end) {
            end -= 1;
        }
        let mut a = [0u8; N];
        a[..end].copy_from_slice(&self.0.as_bytes()[..end]);
        e.bytes(&a);
    }
    fn get(d: &mut Decoder<'_>) -> Result<Self, DecodeError> {
        let b = d.take(N, "fixed string")?;
        let end = b.iter().position(|&c| c == 0).unwrap_or(N);
        Ok(Self(String::from_utf8_lossy(&b[..end]).into_owned()))
    }
}

/// `string name[]`: a u32 length, then that many bytes, no NUL.
impl Wire for String {
    fn put(&self, e: &mut Encoder) {
        let len = u32::try_from(self.len()).unwrap_or(u32::MAX);
        len.put(e);
        e.bytes(&self.as_bytes()[..len as usize]);
    }
    fn get(d: &mut Decoder<'_>) -> Result<Self, DecodeError> {
        let len = u32::get(d)? as usize;
        let b = d.take(len, "variable string")?;
        Ok(String::from_utf8_lossy(b).into_owned())
    }
}

/// An array whose element count is the field just before it (`u8 n_paths; paths[n_paths]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counted<C, T>(pub Vec<T>, std::marker::PhantomData<C>);

impl<C, T> Default for Counted<C, T> {
    fn default() -> Self {
        Self(Vec::new(), std::marker::PhantomData)
    }
}

impl<C, T> From<Vec<T>> for Counted<C, T> {
    fn from(v: Vec<T>) -> Self {
        Self(v, std::marker::PhantomData)
    }
}

impl<C, T> std::ops::Deref for Counted<C, T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.0
    }
}

/// The integer types that count array elements.
pub trait Count: Wire + Copy {
    /// The count for `n` elements, saturated to the type's maximum.
    fn from_len(n: usize) -> Self;
    /// The number of elements.
    fn to_len(self) -> u64;
}

macro_rules! count {
    ($($t:ty),*) => {$(
        impl Count for $t {
            fn from_len(n: usize) -> Self {
                <$t>::try_from(n).unwrap_or(<$t>::MAX)
            }
            fn to_len(self) -> u64 {
                u64::from(self)
            }
        }
    )*};
}
count!(u8, u16, u32);

impl<C: Count, T: Wire> Wire for Counted<C, T> {
    fn put(&self, e: &mut Encoder) {
        // More elements than the count type holds cannot be said; the tail is dropped.
        let n = C::from_len(self.0.len());
        n.put(e);
        for x in self.0.iter().take(n.to_len() as usize) {
            x.put(e);
        }
    }
    fn get(d: &mut Decoder<'_>) -> Result<Self, DecodeError> {
        let n = C::get(d)?.to_len();
        // No preallocation from the count: it comes from the peer.
        let mut v = Vec::new();
        for _ in 0..n {
            v.push(T::get(d)?);
        }
        Ok(v.into())
    }
}

/// `vl_api_address_t`: family (0 = IPv4, 1 = IPv6) and a 16-byte union.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Address {
    /// `ADDRESS_IP4` = 0, `ADDRESS_IP6` = 1.
    pub af: u8,
    /// IPv4 in the first four bytes, the rest zero.
    pub un: [u8; 16],
}

impl From<IpAddr> for Address {
    fn from(ip: IpAddr) -> Self {
        let mut un = [0u8; 16];
        match ip {
            IpAddr::V4(v4) => {
                un[..4].copy_from_slice(&v4.octets());
                Self { af: 0, un }
            }
            IpAddr::V6(v6) => Self {
                af: 1,
                un: v6.octets(),
            },
        }
    }
}

impl Address {
    /// The address, when the family is known.
    pub fn ip(&self) -> Option<IpAddr> {
        match self.af {
            0 => Some(IpAddr::V4(Ipv4Addr::new(
                self.un[0], self.un[1], self.un[2], self.un[3],
            ))),
            1 => Some(IpAddr::V6(Ipv6Addr::from(self.un))),
            _ => None,
        }
    }
}

impl Wire for Address {
    fn put(&self, e: &mut Encoder) {
        self.af.put(e);
        self.un.put(e);
    }
    fn get(d: &mut Decoder<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            af: u8::get(d)?,
            un: <[u8; 16]>::get(d)?,
        })
    }
}

/// `vl_api_prefix_t` (also `address_with_prefix`): an address and a length.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Prefix {
    /// The address.
    pub address: Address,
    /// Prefix length.
    pub len: u8,
}

impl Prefix {
    /// `ip/len`.
    pub fn new(ip: IpAddr, len: u8) -> Self {
        Self {
            address: ip.into(),
            len,
        }
    }
}

impl std::fmt::Display for Prefix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.address.ip() {
            Some(ip) => write!(f, "{ip}/{}", self.len),
            None => write!(f, "<af {}>/{}", self.address.af, self.len),
        }
    }
}

impl Wire for Prefix {
    fn put(&self, e: &mut Encoder) {
        self.address.put(e);
        self.len.put(e);
    }
    fn get(d: &mut Decoder<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            address: Address::get(d)?,
            len: u8::get(d)?,
        })
    }
}

/// Declares a packed struct of wire fields (a VPP typedef).
#[macro_export]
macro_rules! wire_struct {
    ($(#[$m:meta])* pub struct $name:ident { $($(#[$fm:meta])* pub $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Default)]
        pub struct $name { $($(#[$fm])* pub $field: $ty,)* }
        impl $crate::codec::Wire for $name {
            fn put(&self, e: &mut $crate::codec::Encoder) {
                $( $crate::codec::Wire::put(&self.$field, e); )*
            }
            fn get(d: &mut $crate::codec::Decoder<'_>) -> Result<Self, $crate::codec::DecodeError> {
                Ok(Self { $($field: $crate::codec::Wire::get(d)?,)* })
            }
        }
    };
}

/// Declares a u32 enum or flag set as a newtype with named values, so that any value a
/// newer VPP sends still decodes.
#[macro_export]
macro_rules! wire_enum {
    ($(#[$m:meta])* pub struct $name:ident($t:ty) { $($(#[$vm:meta])* $v:ident = $n:expr),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
        pub struct $name(pub $t);
        impl $name {
            $($(#[$vm])* pub const $v: Self = Self($n);)*
        }
        impl $crate::codec::Wire for $name {
            fn put(&self, e: &mut $crate::codec::Encoder) {
                $crate::codec::Wire::put(&self.0, e);
            }
            fn get(d: &mut $crate::codec::Decoder<'_>) -> Result<Self, $crate::codec::DecodeError> {
                Ok(Self(<$t as $crate::codec::Wire>::get(d)?))
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc<T: Wire>(v: &T) -> Vec<u8> {
        let mut e = Encoder::default();
        v.put(&mut e);
        e.into_bytes()
    }

    #[test]
    fn integers_are_big_endian() {
        assert_eq!(enc(&0x0102_0304u32), [1, 2, 3, 4]);
        assert_eq!(enc(&-2i32), [0xff, 0xff, 0xff, 0xfe]);
        assert_eq!(enc(&0x0a0bu16), [0x0a, 0x0b]);
    }

    #[test]
    fn fixed_strings_are_nul_padded_and_keep_a_final_nul() {
        assert_eq!(enc(&FixedStr::<4>::new("ab")), b"ab\0\0");
        assert_eq!(enc(&FixedStr::<4>::new("abcdef")), b"abc\0");
        // Cut on a character boundary, never inside one.
        assert_eq!(enc(&FixedStr::<4>::new("aé!")), b"a\xc3\xa9\0");
        assert_eq!(enc(&FixedStr::<4>::new("abé")), b"ab\0\0");
    }

    #[test]
    fn fixed_strings_read_up_to_the_first_nul_ignoring_garbage() {
        let mut d = Decoder::new(b"vpe\0\x7fjunk");
        assert_eq!(FixedStr::<9>::get(&mut d).unwrap().0, "vpe");
        assert_eq!(d.remaining(), 0);
    }

    #[test]
    fn variable_strings_carry_a_length_and_no_nul() {
        assert_eq!(enc(&"show".to_owned()), b"\0\0\0\x04show");
        assert_eq!(enc(&String::new()), [0, 0, 0, 0]);
    }

    #[test]
    fn a_length_beyond_the_message_is_an_error_not_an_allocation() {
        let mut d = Decoder::new(&[0xff, 0xff, 0xff, 0xff, b'x']);
        assert!(matches!(
            String::get(&mut d),
            Err(DecodeError::Truncated { .. })
        ));
        let mut d = Decoder::new(&[0xff, 0xff, 0xff, 0xff]);
        assert!(Counted::<u32, u32>::get(&mut d).is_err());
    }

    #[test]
    fn ipv4_addresses_fill_the_first_four_bytes_of_the_union() {
        let a = Address::from("192.168.1.1".parse::<IpAddr>().unwrap());
        let b = enc(&a);
        assert_eq!(b.len(), 17);
        assert_eq!(&b[..5], [0, 192, 168, 1, 1]);
        assert!(b[5..].iter().all(|&x| x == 0));
        assert_eq!(enc(&Prefix::new(a.ip().unwrap(), 24)).len(), 18);
    }
}
