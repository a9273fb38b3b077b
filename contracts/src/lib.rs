//! The gRPC contracts shared by the orchestrator, the participants and their clients.

/// `saga.v1`: the orchestrator's public API.
pub mod saga {
    pub mod v1 {
        tonic::include_proto!("saga.v1");
    }
}

/// `orders.v1`: the orders participant.
pub mod orders {
    pub mod v1 {
        tonic::include_proto!("orders.v1");
    }
}

/// `invoices.v1`: the invoices participant.
pub mod invoices {
    pub mod v1 {
        tonic::include_proto!("invoices.v1");
    }
}

/// Contract messages as proto3 JSON.
pub mod json;
mod status;

/// Every contract above (and the well-known types they import) as an encoded
/// `google.protobuf.FileDescriptorSet`: served by reflection, read by dynamic messages.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/contracts.bin"));
