//! A participant's schema, fetched by gRPC server reflection: the file that defines a
//! service and every file it imports, asked for with `grpc.reflection.v1` (or, from a
//! server that only has it, `v1alpha`).

use std::collections::{BTreeMap, BTreeSet};

use prost::Message;
use prost_reflect::DescriptorPool;
use prost_types::{FileDescriptorProto, FileDescriptorSet};
use tonic::transport::Channel;
use tonic_reflection::pb::{v1, v1alpha};

/// How many files one service's schema may span.
const MAX_FILES: usize = 256;

/// Why a schema could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum ReflectionError {
    #[error("reflection call failed: {0}")]
    Call(#[from] tonic::Status),
    #[error("the server answered {0}")]
    Refused(String),
    #[error("the server's descriptors do not decode: {0}")]
    Decode(String),
    #[error("the schema spans more than {MAX_FILES} files")]
    TooLarge,
    #[error("no answer within {0:?}")]
    TimedOut(std::time::Duration),
}

/// What is asked of the server.
#[derive(Debug, Clone)]
enum Ask {
    FileContainingSymbol(String),
    FileByFilename(String),
}

/// The descriptors of `service` as its server describes them, with their imports.
pub async fn fetch(channel: Channel, service: &str) -> Result<DescriptorPool, ReflectionError> {
    let first = Ask::FileContainingSymbol(service.to_string());
    let (alpha, mut answer) = match ask_v1(channel.clone(), first.clone()).await {
        Err(ReflectionError::Call(status)) if status.code() == tonic::Code::Unimplemented => {
            (true, ask_v1alpha(channel.clone(), first).await?)
        }
        answer => (false, answer?),
    };
    let mut files: BTreeMap<String, FileDescriptorProto> = BTreeMap::new();
    let mut asked: BTreeSet<String> = BTreeSet::new();
    loop {
        for bytes in answer {
            let file = FileDescriptorProto::decode(bytes.as_slice())
                .map_err(|e| ReflectionError::Decode(e.to_string()))?;
            files.insert(file.name().to_string(), file);
        }
        if files.len() > MAX_FILES {
            return Err(ReflectionError::TooLarge);
        }
        let missing = files
            .values()
            .flat_map(|f| f.dependency.iter())
            .find(|name| !files.contains_key(*name) && !asked.contains(*name))
            .cloned();
        let Some(name) = missing else { break };
        asked.insert(name.clone());
        let what = Ask::FileByFilename(name);
        answer = match alpha {
            true => ask_v1alpha(channel.clone(), what).await?,
            false => ask_v1(channel.clone(), what).await?,
        };
    }
    let set = FileDescriptorSet {
        file: files.into_values().collect(),
    };
    DescriptorPool::from_file_descriptor_set(set)
        .map_err(|e| ReflectionError::Decode(e.to_string()))
}

/// One reflection request over the named version of the protocol (the two versions'
/// messages are the same but for their package).
macro_rules! ask_over {
    ($name:ident, $version:ident) => {
        async fn $name(channel: Channel, what: Ask) -> Result<Vec<Vec<u8>>, ReflectionError> {
            use $version::server_reflection_request::MessageRequest as Request;
            use $version::server_reflection_response::MessageResponse as Response;
            let message_request = Some(match what {
                Ask::FileContainingSymbol(s) => Request::FileContainingSymbol(s),
                Ask::FileByFilename(f) => Request::FileByFilename(f),
            });
            let request = $version::ServerReflectionRequest {
                host: String::new(),
                message_request,
            };
            let mut client =
                $version::server_reflection_client::ServerReflectionClient::new(channel);
            let mut answers = client
                .server_reflection_info(tokio_stream::iter([request]))
                .await?
                .into_inner();
            match answers.message().await?.and_then(|a| a.message_response) {
                Some(Response::FileDescriptorResponse(files)) => Ok(files.file_descriptor_proto),
                Some(Response::ErrorResponse(e)) => Err(ReflectionError::Refused(e.error_message)),
                other => Err(ReflectionError::Refused(format!("{other:?}"))),
            }
        }
    };
}

ask_over!(ask_v1, v1);
ask_over!(ask_v1alpha, v1alpha);
