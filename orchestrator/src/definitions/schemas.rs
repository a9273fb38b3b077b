//! Where the participants' schemas come from: the built-in orders and invoices services'
//! contracts (shipped with the orchestrator), `--descriptor-set` files, and the other
//! `--participant`s' own server reflection, fetched at start-up and, for a participant
//! that was down, again before each registration.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use prost_reflect::{DescriptorPool, FileDescriptor, MethodDescriptor};
use prost_types::FileDescriptorSet;
use saga_definitions::{Checked, MethodName, Schemas};
use tonic::transport::Channel;

use crate::dynamic::reflection::{self, ReflectionError};

/// How long one participant's reflection may take: a participant that accepts the
/// connection but never answers (paused, or a black hole between) must not hold up the
/// orchestrator's start or a registration.
const REFLECTION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// The services of the built-in participants.
pub const BUILT_IN: [&str; 2] = ["orders.v1.Orders", "invoices.v1.Invoices"];

/// Why the configured schemas cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("cannot read {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{source_name} is not a FileDescriptorSet: {reason}")]
    Decode { source_name: String, reason: String },
    #[error("bad participant URL {url}: {reason}")]
    Url { url: String, reason: String },
}

/// The configured participants' services and what is known of their schemas.
#[derive(Debug)]
pub struct ParticipantSchemas {
    /// Each configured service: the channel to ask its reflection, if it must be asked.
    services: BTreeMap<String, Option<Channel>>,
    /// Schemas from the contracts, the descriptor sets and reflection; looked up in turn.
    pools: RwLock<Vec<DescriptorPool>>,
}

impl ParticipantSchemas {
    /// The built-in participants only, from the contracts the orchestrator ships with.
    pub fn built_in() -> Result<Self, SchemaError> {
        Self::new(true, &[], &[], None)
    }

    /// The built-in participants (when `built_in`), the `participants` (service, URL),
    /// and the schemas of `descriptor_sets` (path, bytes); reflection over `tls` for
    /// `https://` URLs.
    pub fn new(
        built_in: bool,
        participants: &[(String, String)],
        descriptor_sets: &[(String, Vec<u8>)],
        tls: Option<&tonic::transport::ClientTlsConfig>,
    ) -> Result<Self, SchemaError> {
        let mut services = BTreeMap::new();
        let mut pools = Vec::new();
        if built_in {
            pools.push(decode(
                "the contracts",
                saga_contracts::FILE_DESCRIPTOR_SET,
            )?);
            services.extend(BUILT_IN.iter().map(|s| (s.to_string(), None)));
        }
        for (path, bytes) in descriptor_sets {
            pools.push(decode(path, bytes)?);
        }
        for (service, url) in participants {
            let channel = crate::engine::channel(url, tls).map_err(|e| SchemaError::Url {
                url: url.clone(),
                reason: service_kit::telemetry::error_chain(&e),
            })?;
            services.insert(service.clone(), Some(channel));
        }
        Ok(Self {
            services,
            pools: RwLock::new(pools),
        })
    }

    /// Fetches by reflection the schema of each participant not known yet; one that
    /// cannot be reached is left for the next time (its sagas wait and retry).
    pub async fn refresh(self: &Arc<Self>) {
        for (service, channel) in &self.services {
            let Some(channel) = channel else { continue };
            if self.find(service).is_some() {
                continue;
            }
            let fetched = tokio::time::timeout(
                REFLECTION_TIMEOUT,
                reflection::fetch(channel.clone(), service),
            );
            match fetched
                .await
                .unwrap_or(Err(ReflectionError::TimedOut(REFLECTION_TIMEOUT)))
            {
                Ok(pool) => {
                    tracing::info!(%service, "participant schema fetched by reflection");
                    if let Ok(mut pools) = self.pools.write() {
                        pools.push(pool);
                    }
                }
                Err(error) => {
                    tracing::warn!(%service, %error, "cannot fetch the participant's schema yet")
                }
            }
        }
    }

    fn find(&self, service: &str) -> Option<DescriptorPool> {
        let pools = self.pools.read().ok()?;
        pools
            .iter()
            .find(|p| p.get_service_by_name(service).is_some())
            .cloned()
    }
}

impl Schemas for ParticipantSchemas {
    fn method(&self, name: &MethodName) -> Result<MethodDescriptor, String> {
        if !self.services.contains_key(&name.service) {
            return Err(format!("no participant serves {}", name.service));
        }
        let pool = self.find(&name.service).ok_or_else(|| {
            format!(
                "the schema of {} is not known yet (its participant did not answer reflection)",
                name.service
            )
        })?;
        pool.method(name)
    }
}

fn decode(source_name: &str, bytes: &[u8]) -> Result<DescriptorPool, SchemaError> {
    DescriptorPool::decode(bytes).map_err(|e| SchemaError::Decode {
        source_name: source_name.to_string(),
        reason: e.to_string(),
    })
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
