//! Safety under a hostile network and crashes: messages delivered in any order, dropped,
//! duplicated; links cut; nodes crashed (losing all but their disk) and restarted; logs
//! compacted. `Sim` asserts on every apply that no two nodes apply different entries at one
//! index; at the end the network heals and every entry any node ever applied (so committed)
//! must be applied on every node: none was lost.

use proptest::prelude::*;

use super::sim::Sim;

const NODES: u64 = 3;
const GROUPS: [&str; 2] = ["meta", "space"];

#[derive(Clone, Debug)]
enum Action {
    Tick(u64),
    Deliver(usize),
    Drop(usize),
    Duplicate(usize),
    Propose(u64, usize),
    Crash(u64),
    Restart(u64),
    Compact(u64, usize),
    Cut(u64, u64),
    Heal,
}

fn action() -> impl Strategy<Value = Action> {
    let node = 1..=NODES;
    prop_oneof![
        25 => node.clone().prop_map(Action::Tick),
        70 => any::<usize>().prop_map(Action::Deliver),
        4 => any::<usize>().prop_map(Action::Drop),
        3 => any::<usize>().prop_map(Action::Duplicate),
        15 => (node.clone(), 0..GROUPS.len()).prop_map(|(n, g)| Action::Propose(n, g)),
        1 => node.clone().prop_map(Action::Crash),
        2 => node.clone().prop_map(Action::Restart),
        2 => (node.clone(), 0..GROUPS.len()).prop_map(|(n, g)| Action::Compact(n, g)),
        1 => (node.clone(), node).prop_map(|(a, b)| Action::Cut(a, b)),
        2 => Just(Action::Heal),
    ]
}

fn run(actions: &[Action]) {
    let mut sim = Sim::new(NODES, &GROUPS);
    // Short timeouts so elections happen within a few hundred actions.
    sim.options.election_ticks = 5;
    sim.options.heartbeat_ticks = 1;
    for a in actions {
        match *a {
            Action::Tick(n) => {
                if let Some(rg) = sim.node(n).groups.as_mut() {
                    assert!(rg.tick().is_empty(), "a group failed");
                }
            }
            Action::Deliver(k) if !sim.queue.is_empty() => {
                let k = k % sim.queue.len();
                sim.deliver(k);
            }
            Action::Drop(k) if !sim.queue.is_empty() => {
                let k = k % sim.queue.len();
                sim.drop_message(k);
            }
            Action::Duplicate(k) if !sim.queue.is_empty() => {
                let e = &sim.queue[k % sim.queue.len()];
                let copy = super::sim::Envelope { is_snapshot: e.is_snapshot, from: e.from, to: e.to, group: e.group.clone(), bytes: e.bytes.clone() };
                sim.queue.push(copy);
            }
            Action::Propose(n, g) if sim.is_up(n) => {
                // Refusals (no leader known) are expected; only what commits is checked.
                let _ = sim.propose(n, GROUPS[g]);
            }
            Action::Crash(n) if sim.is_up(n) => sim.crash(n),
            Action::Restart(n) if !sim.is_up(n) => {
                // `restart` settles: other nodes' pending messages go out too, harmless here.
                sim.restart(n);
            }
            Action::Compact(n, g) if sim.is_up(n) => {
                let _ = sim.compact(n, GROUPS[g]);
            }
            Action::Cut(a, b) if a != b => {
                sim.cut.insert((a.min(b), a.max(b)));
            }
            Action::Heal => sim.heal(),
            _ => {}
        }
        for id in 1..=NODES {
            sim.handle_readies(id);
        }
    }

    if std::env::var_os("RAFT_SIM_STATS").is_some() {
        eprintln!("random phase: {} entries applied somewhere, {} actions", sim.global.len(), actions.len());
    }
    // Heal everything and let the cluster converge, then commit one more entry per group so
    // every node has learnt the final commit index.
    sim.heal();
    for id in 1..=NODES {
        if !sim.is_up(id) {
            sim.restart(id);
        }
    }
    for g in GROUPS {
        let mut committed = None;
        for _ in 0..300 {
            let leader = sim.elect(g, 300);
            if sim.propose(leader, g).is_ok() {
                sim.settle();
                committed = Some(sim.rg(leader).status(g).expect("status").commit);
                break;
            }
            sim.tick(1);
        }
        let commit = committed.unwrap_or_else(|| panic!("group {g} accepts a proposal after healing"));
        let caught_up = |sim: &mut Sim| (1..=NODES).all(|id| sim.rg(id).status(g).expect("status").applied >= commit);
        for _ in 0..300 {
            if caught_up(&mut sim) {
                break;
            }
            sim.tick(1);
        }
        assert!(caught_up(&mut sim), "every node applies {g} up to {commit} after healing");
    }
    for ((group, index), (term, data)) in sim.global.clone() {
        for id in 1..=NODES {
            let applied = &sim.nodes[(id - 1) as usize].applied[&group];
            assert_eq!(applied.get(&index), Some(&(term, data.clone())), "node {id} lost committed {group}[{index}]");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, max_shrink_iters: 200, ..ProptestConfig::default() })]

    #[test]
    fn no_divergence_and_no_lost_commit(actions in proptest::collection::vec(action(), 200..1500)) {
        run(&actions);
    }
}
