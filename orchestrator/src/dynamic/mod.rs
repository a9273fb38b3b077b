//! Calling any participant's method without generated code: requests and answers are
//! `prost_reflect::DynamicMessage`s over the method's descriptors, each call carries the
//! saga's idempotency metadata, and schemas are fetched by gRPC server reflection.

mod codec;
mod metadata;
pub mod reflection;

use std::time::Duration;

use prost_reflect::{DynamicMessage, MethodDescriptor};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::Channel;

pub use codec::DynamicCodec;
pub use metadata::{CallMetadata, Operation};

/// Calls `method` on `channel` with `request`, carrying `metadata`, within `timeout`.
pub async fn call(
    channel: Channel,
    method: &MethodDescriptor,
    request: DynamicMessage,
    metadata: &CallMetadata<'_>,
    timeout: Duration,
) -> Result<DynamicMessage, tonic::Status> {
    let path = format!("/{}/{}", method.parent_service().full_name(), method.name());
    let path = PathAndQuery::try_from(path)
        .map_err(|e| tonic::Status::internal(format!("bad method path: {e}")))?;
    let mut request = tonic::Request::new(request);
    request.set_timeout(timeout);
    metadata.apply(request.metadata_mut())?;
    service_kit::trace_context::inject(&tracing::Span::current(), request.metadata_mut());
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|e| tonic::Status::unavailable(format!("participant not ready: {e}")))?;
    let answer = grpc
        .unary(request, path, DynamicCodec::new(method.output()))
        .await?;
    Ok(answer.into_inner())
}

#[cfg(test)]
mod tests;
