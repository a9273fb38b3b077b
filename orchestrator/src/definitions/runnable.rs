//! Registered versions ready to run: each checked again against the descriptors it was
//! registered with (not what the participants serve today), once per process, and kept.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use prost::Message;
use prost_reflect::{DescriptorPool, MethodDescriptor};
use saga_contracts::saga::v1 as pb;
use saga_definitions::{Checked, Definition, KeptFields, MethodName, check};

use crate::store::{StoreError, StoredDefinition};

/// How long this process trusts what it last read as a definition's latest version; a
/// version registered through another replica is seen within this.
pub(super) const LATEST_FRESH_FOR: Duration = Duration::from_secs(1);

/// One registered version, checked and resolved.
#[derive(Debug)]
pub struct Runnable {
    pub version: u32,
    pub checked: Checked,
    /// What the saga keeps of each step's answer.
    pub kept: KeptFields,
}

impl Runnable {
    /// Decodes and checks a stored version; a stored version that does not check is
    /// corrupt (it checked when it was registered).
    pub(super) fn from_stored(stored: &StoredDefinition) -> Result<Self, StoreError> {
        let corrupt = |what: &str, reason: String| {
            StoreError::Corrupt(format!(
                "definition {} v{}: {what}: {reason}",
                stored.name, stored.version
            ))
        };
        let body = pb::SagaDefinition::decode(stored.body.as_slice())
            .map_err(|e| corrupt("body", e.to_string()))?;
        let pool = DescriptorPool::decode(stored.descriptors.as_slice())
            .map_err(|e| corrupt("descriptors", e.to_string()))?;
        let checked = check(&body, &pool)
            .map_err(|problems| corrupt("check", saga_definitions::describe(&problems)))?;
        Ok(Self::new(stored.version, checked))
    }

    pub fn new(version: u32, checked: Checked) -> Self {
        Self {
            version,
            kept: KeptFields::of(&checked.definition),
            checked,
        }
    }

    pub fn definition(&self) -> &Definition {
        &self.checked.definition
    }

    pub fn name(&self) -> &str {
        &self.checked.definition.name
    }

    /// The descriptor of a method the definition calls.
    pub fn method(&self, name: &MethodName) -> Option<&MethodDescriptor> {
        self.checked.methods.get(name)
    }
}

/// The versions this process has loaded, and what it knows of each name's latest.
#[derive(Debug, Default)]
pub(super) struct Loaded {
    versions: RwLock<HashMap<String, BTreeMap<u32, Arc<Runnable>>>>,
    latest: RwLock<HashMap<String, (u32, Instant)>>,
}

impl Loaded {
    pub fn version(&self, name: &str, version: u32) -> Option<Arc<Runnable>> {
        let versions = self.versions.read().ok()?;
        versions.get(name)?.get(&version).cloned()
    }

    /// The latest version as last read, if that was recent enough.
    pub fn latest(&self, name: &str) -> Option<u32> {
        let latest = self.latest.read().ok()?;
        let (version, read_at) = latest.get(name)?;
        (read_at.elapsed() < LATEST_FRESH_FOR).then_some(*version)
    }

    pub fn keep(&self, name: &str, runnable: Arc<Runnable>) {
        if let Ok(mut versions) = self.versions.write() {
            versions
                .entry(name.to_string())
                .or_default()
                .insert(runnable.version, runnable);
        }
    }

    pub fn saw_latest(&self, name: &str, version: u32) {
        if let Ok(mut latest) = self.latest.write() {
            latest.insert(name.to_string(), (version, Instant::now()));
        }
    }
}
