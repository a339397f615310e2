//! SWIM membership: an adapter over the `foca` crate (DESIGN §5) that does no I/O. The caller
//! owns the UDP socket and the clock: it feeds in datagrams and fired timers, and `drain()`s
//! the datagrams to send, the timers to schedule and the membership changes to publish.
//!
//! States as reported here: foca's Alive and Suspect map to `alive` / `suspect`; foca's Down is
//! `left` when the member announced its own departure (see `codec`) and `down` otherwise.

mod codec;
mod identity;

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::num::{NonZeroU8, NonZeroUsize};
use std::rc::Rc;
use std::time::Duration;

use foca::{AccumulatingRuntime, Config, Foca, NoCustomBroadcast, PeriodicParams, State, Timer};
use rand::rngs::SmallRng;
use rand::SeedableRng;

pub use codec::{DecodeError, LeftSet, WireCodec};
pub use identity::NodeId;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberState {
    Alive,
    Suspect,
    Down,
    Left,
}

impl MemberState {
    pub fn as_str(self) -> &'static str {
        match self {
            MemberState::Alive => "alive",
            MemberState::Suspect => "suspect",
            MemberState::Down => "down",
            MemberState::Left => "left",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberView {
    pub node: NodeId,
    pub state: MemberState,
}

/// Timing and fan-out; every duration in milliseconds, all non-zero.
#[derive(Debug, Clone)]
pub struct SwimConfig {
    pub probe_period_ms: u32,
    /// How long a direct probe may take before indirect probes start; below `probe_period_ms`.
    pub probe_timeout_ms: u32,
    pub suspect_to_down_ms: u32,
    /// How long a down member's identity is remembered (a same-incarnation rejoin is refused).
    pub remove_down_after_ms: u32,
    pub gossip_period_ms: u32,
    pub announce_period_ms: u32,
    pub indirect_probes: u32,
    pub max_transmissions: u32,
    /// Largest datagram foca builds or accepts (excluding any authentication tag the caller adds).
    pub max_packet_bytes: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

fn non_zero(name: &str, v: u32) -> Result<u32, ConfigError> {
    if v == 0 {
        Err(ConfigError(format!("{name} must be > 0 (got 0)")))
    } else {
        Ok(v)
    }
}

fn ms(v: u32) -> Duration {
    Duration::from_millis(u64::from(v))
}

impl SwimConfig {
    fn to_foca(&self) -> Result<Config, ConfigError> {
        let period = non_zero("probePeriodMs", self.probe_period_ms)?;
        let timeout = non_zero("probeTimeoutMs", self.probe_timeout_ms)?;
        if timeout >= period {
            return Err(ConfigError(format!("probeTimeoutMs ({timeout}) must be below probePeriodMs ({period})")));
        }
        let fan_out = |name: &str, v: u32| non_zero(name, v).map(|v| NonZeroUsize::new(v as usize).expect("non-zero"));
        let max_tx = u8::try_from(non_zero("maxTransmissions", self.max_transmissions)?)
            .map_err(|_| ConfigError(format!("maxTransmissions must be <= 255 (got {})", self.max_transmissions)))?;
        let mut config = Config::simple();
        config.probe_period = ms(period);
        config.probe_rtt = ms(timeout);
        config.suspect_to_down_after = ms(non_zero("suspectToDownMs", self.suspect_to_down_ms)?);
        config.remove_down_after = ms(non_zero("removeDownAfterMs", self.remove_down_after_ms)?);
        config.num_indirect_probes = fan_out("indirectProbes", self.indirect_probes)?;
        config.max_transmissions = NonZeroU8::new(max_tx).expect("non-zero");
        config.max_packet_size = fan_out("maxPacketBytes", self.max_packet_bytes)?;
        // A node declared down learns it and rejoins with a renewed identity, instead of
        // staying out until someone restarts it.
        config.notify_down_members = true;
        config.periodic_gossip = Some(PeriodicParams {
            frequency: ms(non_zero("gossipPeriodMs", self.gossip_period_ms)?),
            num_members: NonZeroUsize::new(3).expect("non-zero"),
        });
        let announce = ms(non_zero("announcePeriodMs", self.announce_period_ms)?);
        config.periodic_announce = Some(PeriodicParams { frequency: announce, num_members: NonZeroUsize::new(1).expect("non-zero") });
        // Heals a partition without outside help: members keep knocking on the ones they wrote off.
        config.periodic_announce_to_down_members =
            Some(PeriodicParams { frequency: announce, num_members: NonZeroUsize::new(2).expect("non-zero") });
        Ok(config)
    }
}

/// What the caller must do after an operation.
#[derive(Debug, Default)]
pub struct Effects {
    /// Datagrams: destination gossip address and payload.
    pub packets: Vec<(String, Vec<u8>)>,
    /// Timers: fire `token` back through `handle_timer` after this many milliseconds.
    pub timers: Vec<(u32, u32)>,
    /// Members whose reported state or identity changed, in the order the changes were seen.
    pub changes: Vec<MemberView>,
}

pub struct Membership {
    foca: Foca<NodeId, WireCodec, SmallRng, NoCustomBroadcast>,
    runtime: AccumulatingRuntime<NodeId>,
    left: LeftSet,
    // Foca's timers carry identities; the caller only ever sees these numbers.
    timers: HashMap<u32, Timer<NodeId>>,
    next_token: u32,
    // Last reported view per node id: one entry per node, whatever its gossip address history.
    view: HashMap<String, MemberView>,
    effects: Effects,
    left_cluster: bool,
}

impl Membership {
    pub fn new(identity: NodeId, config: &SwimConfig, seed: u64) -> Result<Self, ConfigError> {
        if identity.id.is_empty() {
            return Err(ConfigError("identity.id must not be empty".into()));
        }
        let left: LeftSet = Rc::new(RefCell::new(HashSet::new()));
        let foca = Foca::new(identity, config.to_foca()?, SmallRng::seed_from_u64(seed), WireCodec::new(left.clone()));
        let mut membership = Membership {
            foca,
            runtime: AccumulatingRuntime::new(),
            left,
            timers: HashMap::new(),
            next_token: 1,
            view: HashMap::new(),
            effects: Effects::default(),
            left_cluster: false,
        };
        membership.sync();
        Ok(membership)
    }

    pub fn identity(&self) -> &NodeId {
        self.foca.identity()
    }

    /// Asks the member at `gossip_address` (a seed) for the cluster's members.
    pub fn announce(&mut self, gossip_address: &str) -> Result<(), foca::Error> {
        let result = self.foca.announce(NodeId::placeholder(gossip_address), &mut self.runtime);
        self.sync();
        result
    }

    /// One received datagram. Errors are about that datagram only (malformed, from ourselves,
    /// too big); the membership is unchanged by them.
    pub fn handle_data(&mut self, data: &[u8]) -> Result<(), foca::Error> {
        let result = self.foca.handle_data(data, &mut self.runtime);
        self.sync();
        result
    }

    /// A timer the caller scheduled has fired. Returns false for an unknown (already fired)
    /// token, which is harmless.
    pub fn handle_timer(&mut self, token: u32) -> Result<bool, foca::Error> {
        let Some(timer) = self.timers.remove(&token) else { return Ok(false) };
        let result = self.foca.handle_timer(timer, &mut self.runtime);
        self.sync();
        result.map(|()| true)
    }

    /// Graceful leave: tells a few members we are gone; they spread it as `left`.
    pub fn leave(&mut self) -> Result<(), foca::Error> {
        self.left.borrow_mut().insert(self.foca.identity().clone());
        self.left_cluster = true;
        let result = self.foca.leave_cluster(&mut self.runtime);
        self.sync();
        result
    }

    /// Every member this node knows of, itself included, one per node id.
    pub fn members(&self) -> Vec<MemberView> {
        let mut members: Vec<MemberView> = self.view.values().cloned().collect();
        members.sort_by(|a, b| a.node.id.cmp(&b.node.id));
        members
    }

    /// Effects accumulated since the last drain.
    pub fn drain(&mut self) -> Effects {
        std::mem::take(&mut self.effects)
    }

    fn state_of(&self, node: &NodeId, state: State) -> MemberState {
        match state {
            State::Alive => MemberState::Alive,
            State::Suspect => MemberState::Suspect,
            State::Down if self.left.borrow().contains(node) => MemberState::Left,
            State::Down => MemberState::Down,
        }
    }

    /// The one place state changes are observed: moves foca's output into `effects` and diffs
    /// foca's member table against the last reported view.
    fn sync(&mut self) {
        while let Some((to, data)) = self.runtime.to_send() {
            self.effects.packets.push((to.gossip_address, data.to_vec()));
        }
        while let Some((after, timer)) = self.runtime.to_schedule() {
            let token = self.next_token;
            self.next_token = self.next_token.wrapping_add(1).max(1);
            self.timers.insert(token, timer);
            let delay = u32::try_from(after.as_millis()).unwrap_or(u32::MAX);
            self.effects.timers.push((delay, token));
        }
        // Notifications only repeat what the member table diff below reports.
        while self.runtime.to_notify().is_some() {}

        let mut current: HashMap<String, MemberView> = HashMap::new();
        let me = self.foca.identity().clone();
        let my_state = if self.left_cluster { MemberState::Left } else { MemberState::Alive };
        current.insert(me.id.clone(), MemberView { node: me, state: my_state });
        for member in self.foca.iter_membership_state() {
            let view = MemberView { node: member.id().clone(), state: self.state_of(member.id(), member.state()) };
            match current.get(&view.node.id) {
                // The same node under an older incarnation (a restart on another address) is stale.
                Some(seen) if seen.node.incarnation >= view.node.incarnation => {}
                _ => {
                    current.insert(view.node.id.clone(), view);
                }
            }
        }
        let mut current: Vec<(String, MemberView)> = current.into_iter().collect();
        current.sort_by(|a, b| a.0.cmp(&b.0));
        for (id, view) in current {
            if self.view.get(&id) != Some(&view) {
                self.effects.changes.push(view.clone());
                self.view.insert(id, view);
            }
        }
        // Members foca forgot (remove_down_after elapsed) keep their last reported state.
    }
}

#[cfg(test)]
mod tests;
