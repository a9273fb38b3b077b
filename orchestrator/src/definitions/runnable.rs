//! Registered versions ready to run: each checked again against the descriptors it was
//! registered with (not what the participants serve today), once per process, and kept.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, MethodDescriptor, ReflectMessage};
use saga_contracts::saga::v1 as pb;
use saga_definitions::{Checked, Definition, KeptFields, MethodName, check, request};
use serde_json::Value;

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

    /// What the saga keeps of `answer`, step `step`'s action's response: the fields its
    /// templates read (the rest is dropped before it is turned into JSON).
    pub fn keep_answer(&self, step: usize, mut answer: DynamicMessage) -> Value {
        if let Some(kept) = self.kept.fields(step) {
            let unread: Vec<_> = answer
                .descriptor()
                .fields()
                .filter(|f| !kept.contains(f.name()))
                .collect();
            unread.iter().for_each(|field| answer.clear_field(field));
        }
        self.kept.keep(step, request::output_json(&answer))
    }

    /// Step `step`'s answer given as proto3 JSON (an operator's, for a skipped step; empty
    /// is every field's default), checked against its action's response type; what the
    /// saga keeps of it.
    pub fn answer_from_json(&self, step: usize, json: &str) -> Result<Value, String> {
        let action = &self
            .definition()
            .steps
            .get(step)
            .ok_or("no such step")?
            .action
            .method;
        let method = self
            .method(action)
            .ok_or_else(|| format!("{action} is not resolved"))?;
        let json = if json.trim().is_empty() { "{}" } else { json };
        let mut reader = serde_json::Deserializer::from_str(json);
        let answer = DynamicMessage::deserialize(method.output(), &mut reader)
            .and_then(|answer| reader.end().map(|()| answer))
            .map_err(|e| format!("not a {} in proto3 JSON: {e}", method.output().full_name()))?;
        Ok(self.keep_answer(step, answer))
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
