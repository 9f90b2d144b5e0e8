//! What a message is: a name, the CRC of its definition, and its fields. The header around
//! the fields depends on the kind: requests carry `client_index` and `context`, replies and
//! details carry `context` (replies then start with `retval`, a field of their own).

use crate::codec::{DecodeError, Decoder, Encoder, Wire};

/// How the header before the fields looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `u16 id, u32 client_index, u32 context`.
    Request,
    /// `u16 id, u32 context` (replies begin their fields with `i32 retval`).
    Reply,
    /// `u16 id` only: the handshake messages lay out their own header fields.
    Raw,
}

/// A VPP API message.
pub trait Message: Sized {
    /// The name in the `.api` file.
    const NAME: &'static str;
    /// The CRC of the definition, 8 lowercase hex digits.
    const CRC: &'static str;
    /// The header shape.
    const KIND: Kind;
    /// Appends the fields.
    fn encode_fields(&self, e: &mut Encoder);
    /// Reads the fields.
    fn decode_fields(d: &mut Decoder<'_>) -> Result<Self, DecodeError>;

    /// `name_crc`, the key of the handshake's message table.
    fn name_crc() -> String {
        format!("{}_{}", Self::NAME, Self::CRC)
    }
}

/// A request and the reply it gets.
pub trait Request: Message {
    /// The reply.
    type Reply: Reply;
}

/// A reply with a return value (0 = success, negative = a `vnet_api_error_t`).
pub trait Reply: Message {
    /// The return value.
    fn retval(&self) -> i32;
}

/// A dump request and the details messages it gets, ended by a `control_ping_reply`.
pub trait Dump: Message {
    /// The details message.
    type Details: Message;
}

/// The header fields around a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Header {
    /// Message id from the handshake's table.
    pub id: u16,
    /// The client's handle (requests only).
    pub client_index: u32,
    /// Matches a reply to its request.
    pub context: u32,
}

/// Encodes a message body (without the 16-byte frame header).
pub fn encode<M: Message>(h: Header, m: &M) -> Vec<u8> {
    let mut e = Encoder::default();
    h.id.put(&mut e);
    match M::KIND {
        Kind::Request => {
            h.client_index.put(&mut e);
            h.context.put(&mut e);
        }
        Kind::Reply => h.context.put(&mut e),
        Kind::Raw => {}
    }
    m.encode_fields(&mut e);
    e.into_bytes()
}

/// The message id at the start of a body.
pub fn peek_id(body: &[u8]) -> Option<u16> {
    Some(u16::from_be_bytes([*body.first()?, *body.get(1)?]))
}

/// The context of a reply or details body (bytes 2..6).
pub fn peek_reply_context(body: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(body.get(2..6)?.try_into().ok()?))
}

/// Decodes a body as `M`. Bytes after the last field are ignored: VPP may allocate more.
pub fn decode<M: Message>(body: &[u8]) -> Result<(Header, M), DecodeError> {
    let mut d = Decoder::new(body);
    let mut h = Header {
        id: u16::get(&mut d)?,
        ..Header::default()
    };
    match M::KIND {
        Kind::Request => {
            h.client_index = u32::get(&mut d)?;
            h.context = u32::get(&mut d)?;
        }
        Kind::Reply => h.context = u32::get(&mut d)?,
        Kind::Raw => {}
    }
    Ok((h, M::decode_fields(&mut d)?))
}

/// Declares messages: `request`, `reply`, `details` and `raw` structs with their wire fields.
#[macro_export]
macro_rules! messages {
    () => {};
    ($(#[$m:meta])* request $name:ident = $wire:literal, $crc:literal -> $reply:ident { $($(#[$fm:meta])* $field:ident : $ty:ty),* $(,)? } $($rest:tt)*) => {
        $crate::messages!(@def $(#[$m])* $name, $wire, $crc, Request { $($(#[$fm])* $field: $ty),* });
        impl $crate::message::Request for $name { type Reply = $reply; }
        $crate::messages!($($rest)*);
    };
    ($(#[$m:meta])* dump $name:ident = $wire:literal, $crc:literal -> $details:ident { $($(#[$fm:meta])* $field:ident : $ty:ty),* $(,)? } $($rest:tt)*) => {
        $crate::messages!(@def $(#[$m])* $name, $wire, $crc, Request { $($(#[$fm])* $field: $ty),* });
        impl $crate::message::Dump for $name { type Details = $details; }
        $crate::messages!($($rest)*);
    };
    ($(#[$m:meta])* reply $name:ident = $wire:literal, $crc:literal { $($(#[$fm:meta])* $field:ident : $ty:ty),* $(,)? } $($rest:tt)*) => {
        $crate::messages!(@def $(#[$m])* $name, $wire, $crc, Reply { retval: i32, $($(#[$fm])* $field: $ty),* });
        impl $crate::message::Reply for $name { fn retval(&self) -> i32 { self.retval } }
        $crate::messages!($($rest)*);
    };
    ($(#[$m:meta])* details $name:ident = $wire:literal, $crc:literal { $($(#[$fm:meta])* $field:ident : $ty:ty),* $(,)? } $($rest:tt)*) => {
        $crate::messages!(@def $(#[$m])* $name, $wire, $crc, Reply { $($(#[$fm])* $field: $ty),* });
        $crate::messages!($($rest)*);
    };
    ($(#[$m:meta])* raw $name:ident = $wire:literal, $crc:literal { $($(#[$fm:meta])* $field:ident : $ty:ty),* $(,)? } $($rest:tt)*) => {
        $crate::messages!(@def $(#[$m])* $name, $wire, $crc, Raw { $($(#[$fm])* $field: $ty),* });
        $crate::messages!($($rest)*);
    };
    (@def $(#[$m:meta])* $name:ident, $wire:literal, $crc:literal, $kind:ident { $($(#[$fm:meta])* $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Default)]
        #[allow(missing_docs)]
        pub struct $name { $($(#[$fm])* pub $field: $ty,)* }
        impl $crate::message::Message for $name {
            const NAME: &'static str = $wire;
            const CRC: &'static str = $crc;
            const KIND: $crate::message::Kind = $crate::message::Kind::$kind;
            #[allow(unused_variables)]
            fn encode_fields(&self, e: &mut $crate::codec::Encoder) {
                $( $crate::codec::Wire::put(&self.$field, e); )*
            }
            #[allow(unused_variables)]
            fn decode_fields(d: &mut $crate::codec::Decoder<'_>) -> Result<Self, $crate::codec::DecodeError> {
                Ok(Self { $($field: $crate::codec::Wire::get(d)?,)* })
            }
        }
    };
}
