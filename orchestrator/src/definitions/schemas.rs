//! Where the participants' schemas come from: the descriptors of the services the
//! orchestrator has a participant for (today the built-in orders and invoices services,
//! whose contracts it ships with), and the descriptor set stored with each version.

use std::collections::BTreeMap;

use prost_reflect::{DescriptorPool, FileDescriptor, MethodDescriptor};
use prost_types::FileDescriptorSet;
use saga_definitions::{Checked, MethodName, Schemas};

/// The schemas of the configured participants' services.
#[derive(Debug, Clone)]
pub struct ParticipantSchemas {
    pool: DescriptorPool,
    /// The services a participant is configured for, by full name.
    services: Vec<String>,
}

impl ParticipantSchemas {
    /// The built-in participants (`orders.v1.Orders`, `invoices.v1.Invoices`), from the
    /// contracts the orchestrator is built with.
    pub fn built_in() -> Result<Self, prost_reflect::DescriptorError> {
        Ok(Self {
            pool: DescriptorPool::decode(saga_contracts::FILE_DESCRIPTOR_SET)?,
            services: vec!["orders.v1.Orders".into(), "invoices.v1.Invoices".into()],
        })
    }
}

impl Schemas for ParticipantSchemas {
    fn method(&self, name: &MethodName) -> Result<MethodDescriptor, String> {
        if !self.services.contains(&name.service) {
            return Err(format!("no participant serves {}", name.service));
        }
        self.pool.method(name)
    }
}

/// The files that define the methods a definition calls, with everything they import:
/// enough to build and read its messages later without the participants.
pub(super) fn descriptors_of(checked: &Checked) -> FileDescriptorSet {
    let mut files: BTreeMap<String, FileDescriptor> = BTreeMap::new();
    let mut stack: Vec<FileDescriptor> = checked
        .methods
        .values()
        .map(|m| m.parent_service().parent_file())
        .collect();
    while let Some(file) = stack.pop() {
        if files.contains_key(file.name()) {
            continue;
        }
        stack.extend(file.dependencies());
        files.insert(file.name().to_string(), file);
    }
    FileDescriptorSet {
        file: files
            .values()
            .map(|f| f.file_descriptor_proto().clone())
            .collect(),
    }
}
