//! A simulated network and clock: members exchange datagrams in memory and timers fire in
//! virtual time order, so these tests are deterministic and need no sockets.

use std::collections::BTreeMap;

use super::*;

fn config() -> SwimConfig {
    SwimConfig {
        probe_period_ms: 500,
        probe_timeout_ms: 200,
        suspect_to_down_ms: 1500,
        remove_down_after_ms: 3_600_000,
        gossip_period_ms: 200,
        announce_period_ms: 10_000,
        indirect_probes: 3,
        max_transmissions: 10,
        max_packet_bytes: 1400,
    }
}

fn node(i: usize, incarnation: u64) -> NodeId {
    NodeId {
        id: format!("n{i}"),
        gossip_address: format!("10.0.0.{i}:7946"),
        grpc_address: format!("10.0.0.{i}:50051"),
        incarnation,
    }
}

struct Net {
    now: u64,
    members: Vec<Option<Membership>>,
    // (due time, sequence) → (member index, token); the sequence keeps equal times in order.
    timers: BTreeMap<(u64, u64), (usize, u32)>,
    seq: u64,
}

impl Net {
    fn new(n: usize) -> Self {
        let mut net = Net { now: 0, members: Vec::new(), timers: BTreeMap::new(), seq: 0 };
        for i in 0..n {
            net.members.push(Some(Membership::new(node(i, 1), &config(), i as u64).unwrap()));
        }
        net
    }

    fn index_of(&self, address: &str) -> Option<usize> {
        self.members.iter().position(|m| m.as_ref().is_some_and(|m| m.identity().gossip_address == address))
    }

    /// Delivers every pending datagram (recursively) and queues the timers.
    fn settle(&mut self) {
        loop {
            let mut packets = Vec::new();
            for i in 0..self.members.len() {
                let Some(m) = self.members[i].as_mut() else { continue };
                let effects = m.drain();
                for (delay, token) in effects.timers {
                    self.seq += 1;
                    self.timers.insert((self.now + u64::from(delay), self.seq), (i, token));
                }
                packets.extend(effects.packets);
            }
            if packets.is_empty() {
                return;
            }
            for (to, data) in packets {
                if let Some(j) = self.index_of(&to) {
                    let _ = self.members[j].as_mut().unwrap().handle_data(&data);
                }
            }
        }
    }

    fn run_for(&mut self, ms: u64) {
        let end = self.now + ms;
        self.settle();
        while let Some((&(due, seq), &(i, token))) = self.timers.iter().next() {
            if due > end {
                break;
            }
            self.timers.remove(&(due, seq));
            self.now = due;
            if let Some(m) = self.members[i].as_mut() {
                m.handle_timer(token).unwrap();
            }
            self.settle();
        }
        self.now = end;
    }

    fn states(&self, i: usize) -> Vec<(String, &'static str)> {
        let m = self.members[i].as_ref().unwrap();
        m.members().into_iter().map(|v| (v.node.id, v.state.as_str())).collect()
    }

    fn join_all(&mut self) {
        for i in 1..self.members.len() {
            let seed = node(0, 0).gossip_address;
            self.members[i].as_mut().unwrap().announce(&seed).unwrap();
        }
        self.run_for(5_000);
    }
}

fn all(n: usize, state: &'static str) -> Vec<(String, &'static str)> {
    (0..n).map(|i| (format!("n{i}"), state)).collect()
}

#[test]
fn members_join_through_one_seed_and_agree() {
    let mut net = Net::new(5);
    net.join_all();
    for i in 0..5 {
        assert_eq!(net.states(i), all(5, "alive"), "member {i}");
    }
}

#[test]
fn a_silent_member_is_suspected_then_down_and_a_new_incarnation_is_alive_again() {
    let mut net = Net::new(3);
    net.join_all();
    net.members[2] = None;
    // Worst case: probed after two periods, indirect probes, then the suspicion timeout.
    net.run_for(3 * 500 + 1500 + 500);
    for i in 0..2 {
        assert_eq!(net.states(i)[2], ("n2".to_owned(), "down"), "member {i}");
    }
    let changes: Vec<_> = {
        let mut restarted = Membership::new(node(2, 2), &config(), 99).unwrap();
        restarted.announce(&node(0, 0).gossip_address).unwrap();
        net.members[2] = Some(restarted);
        net.run_for(3_000);
        net.members[2].as_ref().unwrap().members().into_iter().map(|v| (v.node.incarnation, v.state)).collect()
    };
    assert_eq!(changes, vec![(1, MemberState::Alive), (1, MemberState::Alive), (2, MemberState::Alive)]);
    for i in 0..2 {
        let n2 = net.members[i].as_ref().unwrap().members().into_iter().find(|v| v.node.id == "n2").unwrap();
        assert_eq!((n2.node.incarnation, n2.state), (2, MemberState::Alive), "member {i}");
    }
}

#[test]
fn a_graceful_leave_is_reported_as_left_everywhere_not_down() {
    let mut net = Net::new(4);
    net.join_all();
    net.members[3].as_mut().unwrap().leave().unwrap();
    net.run_for(2_000);
    for i in 0..3 {
        assert_eq!(net.states(i)[3], ("n3".to_owned(), "left"), "member {i}");
    }
    assert_eq!(net.states(3)[3], ("n3".to_owned(), "left"));
}

#[test]
fn changes_report_self_first_then_each_transition_once() {
    let mut a = Membership::new(node(0, 1), &config(), 1).unwrap();
    let mut b = Membership::new(node(1, 1), &config(), 2).unwrap();
    let ids = |e: Effects| e.changes.into_iter().map(|v| (v.node.id, v.state)).collect::<Vec<_>>();
    assert_eq!(ids(a.drain()), vec![("n0".to_owned(), MemberState::Alive)]);
    b.drain();
    b.announce(&node(0, 0).gossip_address).unwrap();
    for (_, packet) in b.drain().packets {
        a.handle_data(&packet).unwrap();
    }
    assert_eq!(ids(a.drain()), vec![("n1".to_owned(), MemberState::Alive)]);
    a.handle_data(&[]).unwrap_err();
    assert!(a.drain().changes.is_empty());
}

#[test]
fn garbage_and_truncated_packets_are_errors_without_effect() {
    let mut a = Membership::new(node(0, 1), &config(), 1).unwrap();
    a.drain();
    assert!(a.handle_data(&[1, 2, 3]).is_err());
    let mut b = Membership::new(node(1, 1), &config(), 2).unwrap();
    b.announce(&node(0, 0).gossip_address).unwrap();
    let (_, packet) = b.drain().packets.remove(0);
    assert!(a.handle_data(&packet[..packet.len() - 3]).is_err());
    assert_eq!(a.members().len(), 1);
    assert!(a.drain().changes.is_empty());
    assert!(!a.handle_timer(12345).unwrap());
}

#[test]
fn config_is_validated() {
    let bad = SwimConfig { probe_timeout_ms: 500, ..config() };
    assert!(Membership::new(node(0, 1), &bad, 0).is_err());
    let zero = SwimConfig { suspect_to_down_ms: 0, ..config() };
    assert_eq!(Membership::new(node(0, 1), &zero, 0).err().unwrap().0, "suspectToDownMs must be > 0 (got 0)");
}
