//! `SwimMember`: a thin class over `engram_core::membership::Membership`. JS owns the UDP
//! socket and the timers (src/cluster/swim-membership.ts); this only converts values.

use napi::bindgen_prelude::*;
use napi_derive::napi;

use engram_core::membership::{MemberView, Membership, NodeId, SwimConfig};

const CONFIG_CODE: &str = "ERR_SWIM_CONFIG";

#[napi(object)]
pub struct SwimIdentity {
    pub id: String,
    pub gossip_address: String,
    pub grpc_address: String,
    /// Integer below 2^53; the newer process of one node has the larger one.
    pub incarnation: f64,
}

#[napi(object, object_to_js = false)]
pub struct SwimMemberConfig {
    pub probe_period_ms: u32,
    pub probe_timeout_ms: u32,
    pub suspect_to_down_ms: u32,
    pub remove_down_after_ms: u32,
    pub gossip_period_ms: u32,
    pub announce_period_ms: u32,
    pub indirect_probes: u32,
    pub max_transmissions: u32,
    pub max_packet_bytes: u32,
    /// Seeds foca's member shuffling (a u32).
    pub seed: u32,
}

#[napi(object, object_from_js = false)]
pub struct SwimMemberView {
    pub id: String,
    pub gossip_address: String,
    pub grpc_address: String,
    pub incarnation: f64,
    /// `alive`, `suspect`, `down` or `left`.
    pub state: String,
}

#[napi(object, object_from_js = false)]
pub struct SwimPacket {
    /// HOST:PORT
    pub to: String,
    pub data: Uint8Array,
}

#[napi(object, object_from_js = false)]
pub struct SwimTimer {
    pub delay_ms: u32,
    pub token: u32,
}

#[napi(object, object_from_js = false)]
pub struct SwimEffects {
    pub packets: Vec<SwimPacket>,
    pub timers: Vec<SwimTimer>,
    /// Members whose state or identity changed, in order.
    pub changes: Vec<SwimMemberView>,
}

fn view(v: MemberView) -> SwimMemberView {
    SwimMemberView {
        id: v.node.id,
        gossip_address: v.node.gossip_address,
        grpc_address: v.node.grpc_address,
        incarnation: v.node.incarnation as f64,
        state: v.state.as_str().to_owned(),
    }
}

#[napi]
pub struct SwimMember {
    inner: Membership,
}

#[napi]
impl SwimMember {
    /// Throws ERR_SWIM_CONFIG for an invalid identity or config.
    #[napi(constructor)]
    pub fn new(identity: SwimIdentity, config: SwimMemberConfig) -> Result<Self, &'static str> {
        let inc = identity.incarnation;
        if !(inc.is_finite() && inc >= 0.0 && inc.fract() == 0.0 && inc <= 9_007_199_254_740_991.0) {
            return Err(Error::new(CONFIG_CODE, format!("identity.incarnation must be a non-negative safe integer (got {inc})")));
        }
        let node = NodeId {
            id: identity.id,
            gossip_address: identity.gossip_address,
            grpc_address: identity.grpc_address,
            incarnation: inc as u64,
        };
        let swim = SwimConfig {
            probe_period_ms: config.probe_period_ms,
            probe_timeout_ms: config.probe_timeout_ms,
            suspect_to_down_ms: config.suspect_to_down_ms,
            remove_down_after_ms: config.remove_down_after_ms,
            gossip_period_ms: config.gossip_period_ms,
            announce_period_ms: config.announce_period_ms,
            indirect_probes: config.indirect_probes,
            max_transmissions: config.max_transmissions,
            max_packet_bytes: config.max_packet_bytes,
        };
        let inner = Membership::new(node, &swim, u64::from(config.seed)).map_err(|e| Error::new(CONFIG_CODE, e.0))?;
        Ok(SwimMember { inner })
    }

    /// Asks the member at `gossipAddress` (HOST:PORT) for the cluster; effects via `drain()`.
    #[napi]
    pub fn announce(&mut self, gossip_address: String) -> Option<String> {
        self.inner.announce(&gossip_address).err().map(|e| e.to_string())
    }

    /// One datagram (without its authentication tag). Returns why it was refused, or null.
    #[napi]
    pub fn handle_data(&mut self, data: Uint8Array) -> Option<String> {
        self.inner.handle_data(&data).err().map(|e| e.to_string())
    }

    /// A timer from `drain()` fired. Returns an error message or null; unknown tokens are ignored.
    #[napi]
    pub fn handle_timer(&mut self, token: u32) -> Option<String> {
        self.inner.handle_timer(token).err().map(|e| e.to_string())
    }

    /// Graceful leave; the datagrams announcing it come out of `drain()`.
    #[napi]
    pub fn leave(&mut self) -> Option<String> {
        self.inner.leave().err().map(|e| e.to_string())
    }

    /// Every known member, this node included, one per node id, sorted by id.
    #[napi]
    pub fn members(&self) -> Vec<SwimMemberView> {
        self.inner.members().into_iter().map(view).collect()
    }

    /// Datagrams to send, timers to schedule and membership changes since the last call.
    #[napi]
    pub fn drain(&mut self) -> SwimEffects {
        let effects = self.inner.drain();
        SwimEffects {
            packets: effects.packets.into_iter().map(|(to, data)| SwimPacket { to, data: Uint8Array::from(data) }).collect(),
            timers: effects.timers.into_iter().map(|(delay_ms, token)| SwimTimer { delay_ms, token }).collect(),
            changes: effects.changes.into_iter().map(view).collect(),
        }
    }
}
