//! Who a member is, as foca sees it.

use foca::Identity;

/// A node's identity: stable id, the two addresses peers need, and an incarnation the node picks
/// at each start (a clock reading by default) so a restarted node supersedes its old self.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NodeId {
    pub id: String,
    /// HOST:PORT of the UDP gossip socket.
    pub gossip_address: String,
    /// HOST:PORT of the node's gRPC services.
    pub grpc_address: String,
    pub incarnation: u64,
}

impl NodeId {
    /// What we announce to when only a seed's address is known: foca accepts an Announce whose
    /// destination has the receiver's `addr()`, so the other fields can stay empty.
    pub fn placeholder(gossip_address: &str) -> Self {
        NodeId { id: String::new(), gossip_address: gossip_address.to_owned(), grpc_address: String::new(), incarnation: 0 }
    }
}

impl Identity for NodeId {
    // The gossip address, not the node id: a seed is known only by its address, and foca matches
    // an Announce to its receiver by `addr()`.
    type Addr = String;

    /// Lets foca rejoin on its own, one incarnation up, after the cluster wrongly declared it down.
    fn renew(&self) -> Option<Self> {
        Some(NodeId { incarnation: self.incarnation.wrapping_add(1), ..self.clone() })
    }

    fn addr(&self) -> String {
        self.gossip_address.clone()
    }

    /// Two identities at one address: the newer incarnation is the live process.
    fn win_addr_conflict(&self, adversary: &Self) -> bool {
        self.incarnation > adversary.incarnation
    }
}
