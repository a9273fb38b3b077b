//! Registered saga definitions: checked against the participants' schemas when they are
//! registered, stored as immutable versions with the descriptors they were checked
//! against, and read back by name and version.

mod runnable;
mod schemas;

use std::sync::Arc;

use prost::Message;
use saga_contracts::saga::v1 as pb;
use saga_definitions::{Problem, check, file};

use crate::store::{DefinitionStore, NewDefinition, StoreError, StoredDefinition};
pub use runnable::Runnable;
pub use schemas::{BUILT_IN, ParticipantSchemas, SchemaError};

/// The name of the built-in definition that `PlaceOrder` starts.
pub const PLACE_ORDER_NAME: &str = "place-order";

/// The definition every orchestrator ships with: today's order saga.
pub const PLACE_ORDER: &str = include_str!("../../../definitions/place-order.json");

/// The name of the built-in definition that invoices an order placed at orders-svc.
pub const INVOICE_ORDER_NAME: &str = "invoice-order";

/// The saga the invoice trigger starts for an order placed directly at orders-svc.
pub const INVOICE_ORDER: &str = include_str!("../../../definitions/invoice-order.json");

/// Why a definition request failed.
#[derive(Debug, thiserror::Error)]
pub enum DefinitionError {
    /// The definition has problems; nothing was registered.
    #[error("{}", saga_definitions::describe(.0))]
    Invalid(Vec<Problem>),
    #[error("no definition {name}{}", version.map(|v| format!(" version {v}")).unwrap_or_default())]
    NotFound { name: String, version: Option<u32> },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a registration did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    pub name: String,
    pub version: u32,
    pub digest: String,
    /// False when the same body was registered before.
    pub created: bool,
}

/// A stored version, decoded.
#[derive(Debug, Clone)]
pub struct DefinitionInfo {
    pub definition: pb::SagaDefinition,
    pub version: u32,
    pub digest: String,
    pub registered_at_ms: i64,
}

/// Checks, registers and reads definitions. Cheap to clone; clones share what they
/// loaded.
#[derive(Clone)]
pub struct Definitions {
    store: Arc<dyn DefinitionStore>,
    schemas: Arc<ParticipantSchemas>,
    loaded: Arc<runnable::Loaded>,
}

impl Definitions {
    pub fn new(store: Arc<dyn DefinitionStore>, schemas: Arc<ParticipantSchemas>) -> Self {
        Self {
            store,
            schemas,
            loaded: Arc::default(),
        }
    }

    /// A version ready to run, loaded once per process.
    pub async fn runnable(
        &self,
        name: &str,
        version: u32,
    ) -> Result<Arc<Runnable>, DefinitionError> {
        if let Some(loaded) = self.loaded.version(name, version) {
            return Ok(loaded);
        }
        let stored = self.store.definition(name, Some(version)).await?;
        let stored = stored.ok_or_else(|| DefinitionError::NotFound {
            name: name.to_string(),
            version: Some(version),
        })?;
        self.load(&stored)
    }

    /// The latest version ready to run: as read within the last second (a version
    /// registered through another replica is seen within that), else read now.
    pub async fn latest_runnable(&self, name: &str) -> Result<Arc<Runnable>, DefinitionError> {
        if let Some(version) = self.loaded.latest(name) {
            return self.runnable(name, version).await;
        }
        let stored = self.store.definition(name, None).await?;
        let stored = stored.ok_or_else(|| DefinitionError::NotFound {
            name: name.to_string(),
            version: None,
        })?;
        self.loaded.saw_latest(name, stored.version);
        match self.loaded.version(name, stored.version) {
            Some(loaded) => Ok(loaded),
            None => self.load(&stored),
        }
    }

    fn load(&self, stored: &StoredDefinition) -> Result<Arc<Runnable>, DefinitionError> {
        let runnable = Arc::new(Runnable::from_stored(stored)?);
        self.loaded.keep(&stored.name, runnable.clone());
        Ok(runnable)
    }

    /// Every problem of the definition (empty: it would register).
    pub async fn validate(&self, definition: &pb::SagaDefinition) -> Vec<Problem> {
        self.schemas.refresh().await;
        check(definition, self.schemas.as_ref())
            .err()
            .unwrap_or_default()
    }

    /// Registers the definition: the version holding its body, or the next one.
    pub async fn register(
        &self,
        definition: &pb::SagaDefinition,
    ) -> Result<Registration, DefinitionError> {
        let body = saga_definitions::canonical(definition).encode_to_vec();
        let digest = saga_definitions::digest_of_body(&body);
        // A body registered before was checked then, and its version keeps the schemas
        // it was checked against: finding it again needs no participant (a restart while
        // one is down).
        let earlier = self
            .store
            .definition_with_digest(&definition.name, &digest)
            .await?;
        if let Some(stored) = earlier {
            return Ok(Registration {
                name: stored.name,
                version: stored.version,
                digest,
                created: false,
            });
        }
        self.schemas.refresh().await;
        let checked = check(definition, self.schemas.as_ref()).map_err(DefinitionError::Invalid)?;
        let descriptors = schemas::descriptors_of(&checked).encode_to_vec();
        let registered = self
            .store
            .register(NewDefinition {
                name: &definition.name,
                digest: &digest,
                body: &body,
                descriptors: &descriptors,
            })
            .await?;
        if registered.created {
            self.loaded
                .saw_latest(&definition.name, registered.definition.version);
            tracing::info!(definition = %definition.name, version = registered.definition.version, %digest, "definition registered");
        }
        Ok(Registration {
            name: registered.definition.name,
            version: registered.definition.version,
            digest,
            created: registered.created,
        })
    }

    /// Registers the definitions shipped with the orchestrator.
    pub async fn register_built_in(&self) -> Result<(), DefinitionError> {
        self.register_file("place-order.json", PLACE_ORDER).await?;
        self.register_file("invoice-order.json", INVOICE_ORDER)
            .await
            .map(|_| ())
    }

    /// Registers the definition in a file's `text`; a problem's location starts with the
    /// file's `name`.
    pub async fn register_file(
        &self,
        name: &str,
        text: &str,
    ) -> Result<Registration, DefinitionError> {
        let in_file = |problems: Vec<Problem>| {
            let located = problems
                .into_iter()
                .map(|p| Problem::new(format!("{name}: {}", p.location), p.message));
            DefinitionError::Invalid(located.collect())
        };
        let definition = file::from_file_text(name, text)
            .map_err(|e| in_file(vec![Problem::new("definition", e.to_string())]))?;
        match self.register(&definition).await {
            Err(DefinitionError::Invalid(problems)) => Err(in_file(problems)),
            done => done,
        }
    }

    /// One version (`None`: the latest).
    pub async fn get(
        &self,
        name: &str,
        version: Option<u32>,
    ) -> Result<DefinitionInfo, DefinitionError> {
        let stored = self.store.definition(name, version).await?;
        let stored = stored.ok_or_else(|| DefinitionError::NotFound {
            name: name.to_string(),
            version,
        })?;
        decode(stored)
    }

    /// The latest version of each definition.
    pub async fn list(&self) -> Result<Vec<DefinitionInfo>, DefinitionError> {
        let all = self.store.latest_definitions().await?;
        all.into_iter().map(decode).collect()
    }
}

fn decode(stored: StoredDefinition) -> Result<DefinitionInfo, DefinitionError> {
    let definition = pb::SagaDefinition::decode(stored.body.as_slice()).map_err(|e| {
        StoreError::Corrupt(format!(
            "definition {} v{}: {e}",
            stored.name, stored.version
        ))
    })?;
    Ok(DefinitionInfo {
        definition,
        version: stored.version,
        digest: stored.digest,
        registered_at_ms: stored.registered_at_ms,
    })
}

#[cfg(test)]
mod tests;
