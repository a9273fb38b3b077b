//! Names of a campaign's processes: the participants (two, or three with the four-step
//! definition's inventory) and one orchestrator, or several orchestrator replicas (`orchestrator-1`, `orchestrator-2`, …) sharing one database.

use std::fmt;

use crate::binaries::Binary;

/// One process of a campaign, restarted on its own address under the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId {
    pub binary: Binary,
    /// 0 for a participant and for a lone orchestrator; 1..=N for the replicas of a
    /// campaign with several.
    pub replica: u32,
}

impl NodeId {
    pub const ORDERS: NodeId = NodeId {
        binary: Binary::OrdersSvc,
        replica: 0,
    };
    pub const INVOICES: NodeId = NodeId {
        binary: Binary::InvoicesSvc,
        replica: 0,
    };
    /// The inventory participant of the four-step definition's campaigns.
    pub const INVENTORY: NodeId = NodeId {
        binary: Binary::InventorySvc,
        replica: 0,
    };

    /// The process running `binary` (replica 0).
    pub fn of(binary: Binary) -> Self {
        Self { binary, replica: 0 }
    }

    /// The orchestrators of a campaign with `replicas` of them: one unnumbered, or
    /// replicas 1..=N.
    pub fn orchestrators(replicas: u32) -> Vec<NodeId> {
        match replicas {
            0 | 1 => vec![NodeId::of(Binary::Orchestrator)],
            n => (1..=n)
                .map(|replica| NodeId {
                    binary: Binary::Orchestrator,
                    replica,
                })
                .collect(),
        }
    }

    /// Every process of a place-order campaign, in start-up order (participants first).
    pub fn all(replicas: u32) -> Vec<NodeId> {
        Self::with(&[], replicas)
    }

    /// Every process of a campaign whose definition also calls `extra` participants, in
    /// start-up order (participants first).
    pub fn with(extra: &[NodeId], replicas: u32) -> Vec<NodeId> {
        let mut all = vec![NodeId::ORDERS, NodeId::INVOICES];
        all.extend_from_slice(extra);
        all.extend(Self::orchestrators(replicas));
        all
    }

    /// Whether this is an orchestrator (a replica or the lone one).
    pub fn is_orchestrator(self) -> bool {
        self.binary == Binary::Orchestrator
    }

    /// The process's name in reports and log file names, and a replica's `--replica-id`.
    pub fn name(self) -> String {
        match self.replica {
            0 => self.binary.name().to_string(),
            n => format!("{}-{n}", self.binary.name()),
        }
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_orchestrator_keeps_its_plain_name_and_replicas_are_numbered() {
        let names = |replicas| -> Vec<String> {
            NodeId::all(replicas)
                .into_iter()
                .map(NodeId::name)
                .collect()
        };
        assert_eq!(names(1), ["orders-svc", "invoices-svc", "orchestrator"]);
        assert_eq!(
            names(3),
            [
                "orders-svc",
                "invoices-svc",
                "orchestrator-1",
                "orchestrator-2",
                "orchestrator-3"
            ]
        );
    }
}
