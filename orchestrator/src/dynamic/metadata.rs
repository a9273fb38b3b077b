//! The metadata every participant call carries, the same on every attempt: `saga-id`,
//! `saga-step`, `saga-operation` (`action` or `compensation`) and `idempotency-key`
//! (`<saga-id>:<step>:<operation>`). A participant keys its barrier on them.

pub use saga_definitions::machine::Operation;
use tonic::metadata::{MetadataMap, MetadataValue};

/// One call's saga metadata.
#[derive(Debug, Clone, Copy)]
pub struct CallMetadata<'a> {
    pub saga_id: &'a str,
    pub step: &'a str,
    pub operation: Operation,
}

impl CallMetadata<'_> {
    /// `<saga-id>:<step>:<operation>`.
    pub fn idempotency_key(&self) -> String {
        format!("{}:{}:{}", self.saga_id, self.step, self.operation.as_str())
    }

    /// Adds the four entries; a saga id or step name that is not valid metadata text is
    /// INVALID_ARGUMENT (neither can be: both are checked when they are made).
    pub fn apply(&self, map: &mut MetadataMap) -> Result<(), tonic::Status> {
        let value = |text: &str| {
            MetadataValue::try_from(text).map_err(|_| {
                tonic::Status::invalid_argument(format!("{text:?} is not metadata text"))
            })
        };
        map.insert("saga-id", value(self.saga_id)?);
        map.insert("saga-step", value(self.step)?);
        map.insert("saga-operation", value(self.operation.as_str())?);
        map.insert("idempotency-key", value(&self.idempotency_key())?);
        Ok(())
    }
}
