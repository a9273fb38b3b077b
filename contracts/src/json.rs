//! Contract messages as proto3 JSON (proto field names), read through the contracts' own
//! descriptors: one conversion for the CLI's `--output json` and the web page's API.

use std::sync::OnceLock;

use prost_reflect::{DescriptorPool, DynamicMessage, SerializeOptions};

/// Why a message could not be written as JSON; each is a bug of ours, not the caller's.
#[derive(Debug, thiserror::Error)]
pub enum JsonError {
    #[error("the contracts' descriptor set does not decode: {0}")]
    Descriptors(String),
    #[error("no message {0} in the contracts")]
    UnknownMessage(String),
    #[error("the message does not decode as {name}")]
    Decode {
        name: String,
        #[source]
        source: prost::DecodeError,
    },
    #[error("cannot write the message as JSON")]
    Serialize(#[from] serde_json::Error),
}

/// The contracts' descriptors, decoded once per process.
fn pool() -> Result<&'static DescriptorPool, JsonError> {
    static POOL: OnceLock<Result<DescriptorPool, String>> = OnceLock::new();
    POOL.get_or_init(|| {
        DescriptorPool::decode(crate::FILE_DESCRIPTOR_SET).map_err(|error| error.to_string())
    })
    .as_ref()
    .map_err(|error| JsonError::Descriptors(error.clone()))
}

/// `message`, of the proto type `full_name` (e.g. `saga.v1.Saga`), as a proto3 JSON value
/// with the proto field names (`saga_id`, not `sagaId`); fields at their default are
/// left out, as proto3 JSON does.
pub fn to_json<M: prost::Message>(
    message: &M,
    full_name: &str,
) -> Result<serde_json::Value, JsonError> {
    let descriptor = pool()?
        .get_message_by_name(full_name)
        .ok_or_else(|| JsonError::UnknownMessage(full_name.to_string()))?;
    let dynamic = DynamicMessage::decode(descriptor, message.encode_to_vec().as_slice()).map_err(
        |source| JsonError::Decode {
            name: full_name.to_string(),
            source,
        },
    )?;
    let options = SerializeOptions::new().use_proto_field_name(true);
    Ok(dynamic.serialize_with_options(serde_json::value::Serializer, &options)?)
}

/// [`to_json`] as one line of text.
pub fn to_json_string<M: prost::Message>(
    message: &M,
    full_name: &str,
) -> Result<String, JsonError> {
    Ok(to_json(message, full_name)?.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::saga::v1 as pb;

    #[test]
    fn a_saga_is_written_with_proto_field_names_and_enum_names() -> Result<(), JsonError> {
        let saga = pb::Saga {
            saga_id: "s-1".into(),
            status: pb::SagaStatus::Failed.into(),
            total_cents: 1999,
            ..Default::default()
        };
        let json = to_json(&saga, "saga.v1.Saga")?;
        assert_eq!(
            json,
            serde_json::json!({
                "saga_id": "s-1",
                "status": "SAGA_STATUS_FAILED",
                "total_cents": "1999",
            })
        );
        Ok(())
    }

    #[test]
    fn an_unknown_message_name_is_an_error() {
        let saga = pb::Saga::default();
        assert!(matches!(
            to_json(&saga, "saga.v1.Nothing"),
            Err(JsonError::UnknownMessage(name)) if name == "saga.v1.Nothing"
        ));
    }
}
