//! Our wire format for foca's headers and member updates (foca's serde codecs need crates we
//! do not ship). Strings are u16-length-prefixed UTF-8, integers big-endian.
//!
//! Member state byte: 0 alive, 1 suspect, 2 down, 3 left. Foca has no "left": a member that
//! leaves declares itself down. The codec marks such an update `3` and records the identity in
//! the shared `LeftSet` when decoding, so every node that hears it (first- or second-hand) can
//! tell a graceful leave from a crash.

use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt;
use std::rc::Rc;

use bytes::{Buf, BufMut};
use foca::{Codec, Header, Member, Message, State};

use super::identity::NodeId;

/// Identities known to have left on purpose; shared by the codec and the membership adapter.
pub type LeftSet = Rc<RefCell<HashSet<NodeId>>>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub &'static str);

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for DecodeError {}

pub struct WireCodec {
    left: LeftSet,
}

impl WireCodec {
    pub fn new(left: LeftSet) -> Self {
        WireCodec { left }
    }
}

const STATE_ALIVE: u8 = 0;
const STATE_SUSPECT: u8 = 1;
const STATE_DOWN: u8 = 2;
const STATE_LEFT: u8 = 3;

fn put_str(buf: &mut impl BufMut, s: &str) -> Result<(), DecodeError> {
    let len = u16::try_from(s.len()).map_err(|_| DecodeError("string longer than 65535 bytes"))?;
    buf.put_u16(len);
    buf.put_slice(s.as_bytes());
    Ok(())
}

fn need(buf: &impl Buf, n: usize) -> Result<(), DecodeError> {
    if buf.remaining() < n {
        Err(DecodeError("truncated packet"))
    } else {
        Ok(())
    }
}

fn get_u8(buf: &mut impl Buf) -> Result<u8, DecodeError> {
    need(buf, 1)?;
    Ok(buf.get_u8())
}

fn get_u16(buf: &mut impl Buf) -> Result<u16, DecodeError> {
    need(buf, 2)?;
    Ok(buf.get_u16())
}

fn get_str(buf: &mut impl Buf) -> Result<String, DecodeError> {
    let len = get_u16(buf)? as usize;
    need(buf, len)?;
    let mut bytes = vec![0; len];
    buf.copy_to_slice(&mut bytes);
    String::from_utf8(bytes).map_err(|_| DecodeError("string is not UTF-8"))
}

fn put_id(buf: &mut impl BufMut, id: &NodeId) -> Result<(), DecodeError> {
    put_str(buf, &id.id)?;
    put_str(buf, &id.gossip_address)?;
    put_str(buf, &id.grpc_address)?;
    buf.put_u64(id.incarnation);
    Ok(())
}

fn get_id(buf: &mut impl Buf) -> Result<NodeId, DecodeError> {
    let id = get_str(buf)?;
    let gossip_address = get_str(buf)?;
    let grpc_address = get_str(buf)?;
    need(buf, 8)?;
    Ok(NodeId { id, gossip_address, grpc_address, incarnation: buf.get_u64() })
}

impl Codec<NodeId> for WireCodec {
    type Error = DecodeError;

    fn encode_header(&mut self, header: &Header<NodeId>, mut buf: impl BufMut) -> Result<(), DecodeError> {
        put_id(&mut buf, &header.src)?;
        buf.put_u16(header.src_incarnation);
        put_id(&mut buf, &header.dst)?;
        match &header.message {
            Message::Ping(n) => buf.put_slice(&[0, *n]),
            Message::Ack(n) => buf.put_slice(&[1, *n]),
            Message::PingReq { target, probe_number } => {
                buf.put_slice(&[2, *probe_number]);
                put_id(&mut buf, target)?;
            }
            Message::IndirectPing { origin, probe_number } => {
                buf.put_slice(&[3, *probe_number]);
                put_id(&mut buf, origin)?;
            }
            Message::IndirectAck { target, probe_number } => {
                buf.put_slice(&[4, *probe_number]);
                put_id(&mut buf, target)?;
            }
            Message::ForwardedAck { origin, probe_number } => {
                buf.put_slice(&[5, *probe_number]);
                put_id(&mut buf, origin)?;
            }
            Message::Announce => buf.put_u8(6),
            Message::Feed => buf.put_u8(7),
            Message::Gossip => buf.put_u8(8),
            Message::Broadcast => buf.put_u8(9),
            Message::TurnUndead => buf.put_u8(10),
        }
        Ok(())
    }

    fn decode_header(&mut self, mut buf: impl Buf) -> Result<Header<NodeId>, DecodeError> {
        let src = get_id(&mut buf)?;
        let src_incarnation = get_u16(&mut buf)?;
        let dst = get_id(&mut buf)?;
        let tag = get_u8(&mut buf)?;
        let message = match tag {
            0 => Message::Ping(get_u8(&mut buf)?),
            1 => Message::Ack(get_u8(&mut buf)?),
            2..=5 => {
                let probe_number = get_u8(&mut buf)?;
                let other = get_id(&mut buf)?;
                match tag {
                    2 => Message::PingReq { target: other, probe_number },
                    3 => Message::IndirectPing { origin: other, probe_number },
                    4 => Message::IndirectAck { target: other, probe_number },
                    _ => Message::ForwardedAck { origin: other, probe_number },
                }
            }
            6 => Message::Announce,
            7 => Message::Feed,
            8 => Message::Gossip,
            9 => Message::Broadcast,
            10 => Message::TurnUndead,
            _ => return Err(DecodeError("unknown message type")),
        };
        Ok(Header { src, src_incarnation, dst, message })
    }

    fn encode_member(&mut self, member: &Member<NodeId>, mut buf: impl BufMut) -> Result<(), DecodeError> {
        put_id(&mut buf, member.id())?;
        buf.put_u16(member.incarnation());
        let state = match member.state() {
            State::Alive => STATE_ALIVE,
            State::Suspect => STATE_SUSPECT,
            State::Down if self.left.borrow().contains(member.id()) => STATE_LEFT,
            State::Down => STATE_DOWN,
        };
        buf.put_u8(state);
        Ok(())
    }

    fn decode_member(&mut self, mut buf: impl Buf) -> Result<Member<NodeId>, DecodeError> {
        let id = get_id(&mut buf)?;
        let incarnation = get_u16(&mut buf)?;
        let state = match get_u8(&mut buf)? {
            STATE_ALIVE => State::Alive,
            STATE_SUSPECT => State::Suspect,
            STATE_DOWN => State::Down,
            STATE_LEFT => {
                self.left.borrow_mut().insert(id.clone());
                State::Down
            }
            _ => return Err(DecodeError("unknown member state")),
        };
        Ok(Member::new(id, incarnation, state))
    }
}
