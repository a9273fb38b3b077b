//! The gRPC edge: each handler converts the request, calls one engine function and
//! converts the answer back.

mod attempts;
mod convert;
mod error;
mod limits;
mod operator;
mod order;
mod view;
mod watch;
mod watch_all;

use std::time::Duration;

use saga_contracts::saga::v1 as pb;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::auth::{Access, Need, Principal};
use crate::definitions::{Definitions, PLACE_ORDER_NAME};
use crate::engine::{Engine, SagaStart};
use crate::store::SagaRecord;
use convert::{
    PlaceOrder, StartSaga, definition_to_proto, grpc_timeout, list_filter, replica_to_proto,
    status_filter,
};
pub use error::ApiError;
pub use limits::Limits;
use saga_definitions::machine::Action;

/// The longest a `PlaceOrder` or `StartSaga` waits for its saga, whatever the caller
/// asked.
const MAX_WAIT: Duration = Duration::from_secs(300);
/// Answer this long before the caller's own deadline, so the answer still reaches it.
const DEADLINE_MARGIN: Duration = Duration::from_millis(50);

/// `saga.v1.Orchestrator` over the engine and the registered definitions, letting
/// through what `access` allows.
#[derive(Clone)]
pub struct OrchestratorApi {
    engine: Engine,
    definitions: Definitions,
    access: Access,
    limits: Limits,
}

impl OrchestratorApi {
    pub fn new(engine: Engine, definitions: Definitions, access: Access, limits: Limits) -> Self {
        Self {
            engine,
            definitions,
            access,
            limits,
        }
    }

    /// Like [`OrchestratorApi::allow`] for an operator's action, which also counts against
    /// the principal's actions a minute.
    fn allow_action<T>(&self, request: &Request<T>) -> Result<Principal, ApiError> {
        let principal = self.allow(request, Need::Operate)?;
        self.limits.action(&principal)?;
        Ok(principal)
    }

    /// Who sent `request`, if they may make a call that `need`s this; the one check every
    /// protected call makes, whether it came over gRPC or from the web page.
    fn allow<T>(&self, request: &Request<T>, need: Need) -> Result<Principal, ApiError> {
        let principal = self.access.check(request.metadata(), need)?;
        tracing::Span::current().record("principal", principal.0.as_str());
        Ok(principal)
    }

    /// The gRPC service to mount, refusing requests over `max_request_bytes` (OUT_OF_RANGE,
    /// before anything of them is read further).
    pub fn into_service(
        self,
        max_request_bytes: usize,
    ) -> pb::orchestrator_server::OrchestratorServer<Self> {
        pb::orchestrator_server::OrchestratorServer::new(self)
            .max_decoding_message_size(max_request_bytes)
    }

    /// Starts the saga and waits for it as the caller asked.
    async fn start(
        &self,
        start: SagaStart,
        wait: Option<Duration>,
        metadata: &tonic::metadata::MetadataMap,
    ) -> Result<pb::Saga, ApiError> {
        let mut wait = wait.unwrap_or(MAX_WAIT).min(MAX_WAIT);
        let patience = grpc_timeout(metadata).map(|t| t.saturating_sub(DEADLINE_MARGIN));
        if let Some(patience) = patience {
            wait = wait.min(patience);
        }
        let started = self
            .engine
            .start(start, Instant::now() + wait, patience)
            .await;
        if let Err(crate::engine::EngineError::Overloaded) = &started {
            metrics::counter!(crate::metrics::STARTS_REFUSED).increment(1);
        }
        Ok(self.view(started?).await)
    }

    /// The saga as clients see it, with its steps by the names of the definition version
    /// it runs.
    async fn view(&self, record: SagaRecord) -> pb::Saga {
        let runnable = self
            .definitions
            .runnable(&record.definition, record.definition_version)
            .await;
        if let Err(error) = &runnable {
            tracing::warn!(saga_id = %record.saga_id, %error, "saga shown without its definition");
        }
        let definition = runnable.as_ref().ok().map(|r| r.definition());
        view::saga_to_proto(record, definition)
    }
}

#[tonic::async_trait]
impl pb::orchestrator_server::Orchestrator for OrchestratorApi {
    type WatchSagaStream = ReceiverStream<Result<pb::SagaLogEntry, Status>>;
    type WatchSagasStream = ReceiverStream<Result<pb::SagaEvent, Status>>;

    #[tracing::instrument(skip_all, fields(idempotency_key = ?request.get_ref().idempotency_key))]
    async fn place_order(
        &self,
        request: Request<pb::PlaceOrderRequest>,
    ) -> Result<Response<pb::PlaceOrderResponse>, Status> {
        let (metadata, _, request) = request.into_parts();
        let place = PlaceOrder::try_from(request)?;
        let runnable = self
            .definitions
            .latest_runnable(PLACE_ORDER_NAME)
            .await
            .map_err(ApiError::from)?;
        let start = SagaStart {
            runnable,
            key: place.key,
            input: place.order.to_input(),
        };
        let saga = self.start(start, place.wait, &metadata).await?;
        Ok(Response::new(pb::PlaceOrderResponse { saga: Some(saga) }))
    }

    #[tracing::instrument(skip_all, fields(definition = ?request.get_ref().definition, idempotency_key = ?request.get_ref().idempotency_key))]
    async fn start_saga(
        &self,
        request: Request<pb::StartSagaRequest>,
    ) -> Result<Response<pb::StartSagaResponse>, Status> {
        let (metadata, _, request) = request.into_parts();
        let start = StartSaga::try_from(request)?;
        let runnable = match start.version {
            None => self.definitions.latest_runnable(&start.definition).await,
            Some(v) => self.definitions.runnable(&start.definition, v).await,
        }
        .map_err(ApiError::from)?;
        let start_saga =
            SagaStart::checked(runnable, start.key, start.input).map_err(|problems| {
                ApiError::invalid("input_json", saga_definitions::describe(&problems))
            })?;
        let saga = self.start(start_saga, start.wait, &metadata).await?;
        Ok(Response::new(pb::StartSagaResponse { saga: Some(saga) }))
    }

    #[tracing::instrument(skip_all, fields(principal = tracing::field::Empty, saga_id = ?request.get_ref().saga_id))]
    async fn get_saga(
        &self,
        request: Request<pb::GetSagaRequest>,
    ) -> Result<Response<pb::Saga>, Status> {
        self.allow(&request, Need::Read)?;
        let saga_id = request.into_inner().saga_id;
        if saga_id.is_empty() {
            return Err(ApiError::invalid("saga_id", "must not be empty").into());
        }
        let saga = self.engine.get(&saga_id).await.map_err(ApiError::from)?;
        Ok(Response::new(self.view(saga).await))
    }

    #[tracing::instrument(skip_all, fields(principal = tracing::field::Empty, saga_id = ?request.get_ref().saga_id))]
    async fn retry_saga(
        &self,
        request: Request<pb::RetrySagaRequest>,
    ) -> Result<Response<pb::Saga>, Status> {
        let principal = self.allow_action(&request)?;
        let asked = request.into_inner().into();
        Ok(Response::new(
            self.operate(asked, Action::Retry, principal).await?,
        ))
    }

    #[tracing::instrument(skip_all, fields(principal = tracing::field::Empty, saga_id = ?request.get_ref().saga_id))]
    async fn abort_saga(
        &self,
        request: Request<pb::AbortSagaRequest>,
    ) -> Result<Response<pb::Saga>, Status> {
        let principal = self.allow_action(&request)?;
        let asked = request.into_inner().into();
        Ok(Response::new(
            self.operate(asked, Action::Abort, principal).await?,
        ))
    }

    #[tracing::instrument(skip_all, fields(principal = tracing::field::Empty, saga_id = ?request.get_ref().saga_id))]
    async fn resolve_saga(
        &self,
        request: Request<pb::ResolveSagaRequest>,
    ) -> Result<Response<pb::Saga>, Status> {
        let principal = self.allow_action(&request)?;
        let asked = request.into_inner().into();
        Ok(Response::new(
            self.operate(asked, Action::Resolve, principal).await?,
        ))
    }

    #[tracing::instrument(skip_all, fields(principal = tracing::field::Empty, saga_id = ?request.get_ref().saga_id, step = ?request.get_ref().step))]
    async fn skip_step(
        &self,
        request: Request<pb::SkipStepRequest>,
    ) -> Result<Response<pb::Saga>, Status> {
        let principal = self.allow_action(&request)?;
        Ok(Response::new(
            self.skip(request.into_inner(), principal).await?,
        ))
    }

    #[tracing::instrument(skip_all, fields(principal = tracing::field::Empty, saga_id = ?request.get_ref().saga_id))]
    async fn watch_saga(
        &self,
        request: Request<pb::WatchSagaRequest>,
    ) -> Result<Response<Self::WatchSagaStream>, Status> {
        self.allow(&request, Need::Read)?;
        let pass = self.limits.watcher(request.remote_addr())?;
        let request = request.into_inner();
        if request.saga_id.is_empty() {
            return Err(ApiError::invalid("saga_id", "must not be empty").into());
        }
        // Read once here, so that an unknown saga is the call's answer.
        let saga = self
            .engine
            .get(&request.saga_id)
            .await
            .map_err(ApiError::from)?;
        let (sink, records) = mpsc::channel(watch::WATCH_BUFFER);
        let follow = watch::follow(self.engine.clone(), saga, request.from_seq, sink);
        tokio::spawn(async move {
            follow.await;
            drop(pass);
        });
        Ok(Response::new(ReceiverStream::new(records)))
    }

    #[tracing::instrument(skip_all, fields(principal = tracing::field::Empty))]
    async fn watch_sagas(
        &self,
        request: Request<pb::WatchSagasRequest>,
    ) -> Result<Response<Self::WatchSagasStream>, Status> {
        self.allow(&request, Need::Read)?;
        let pass = self.limits.watcher(request.remote_addr())?;
        let request = request.into_inner();
        let filter = crate::store::SagaFilter {
            status: status_filter(request.status)?,
            definition: (!request.definition.is_empty()).then_some(request.definition),
            ..Default::default()
        };
        let (sink, events) = mpsc::channel(watch::WATCH_BUFFER);
        let follow = self.clone().follow_all(filter, sink);
        tokio::spawn(async move {
            follow.await;
            drop(pass);
        });
        Ok(Response::new(ReceiverStream::new(events)))
    }

    #[tracing::instrument(skip_all, fields(principal = tracing::field::Empty))]
    async fn list_sagas(
        &self,
        request: Request<pb::ListSagasRequest>,
    ) -> Result<Response<pb::ListSagasResponse>, Status> {
        self.allow(&request, Need::Read)?;
        let request = request.into_inner();
        let filter = list_filter(&request)?;
        let before = service_kit::paging::decode_token(&request.page_token)
            .map_err(|_| ApiError::invalid("page_token", "is not a token from a previous page"))?;
        let limit = service_kit::paging::page_size(request.page_size);
        let sagas = self
            .engine
            .list(&filter, limit, before)
            .await
            .map_err(ApiError::from)?;
        let counts = self.engine.count(&filter).await.map_err(ApiError::from)?;
        let last = sagas.last().map(|s| s.row);
        let next_page_token = service_kit::paging::next_token(sagas.len(), limit, last);
        let mut shown = Vec::with_capacity(sagas.len());
        for saga in sagas {
            shown.push(self.view(saga).await);
        }
        Ok(Response::new(pb::ListSagasResponse {
            sagas: shown,
            next_page_token,
            counts: counts
                .into_iter()
                .map(|(status, n)| (status.as_str().to_string(), n))
                .collect(),
        }))
    }

    #[tracing::instrument(skip_all, fields(principal = tracing::field::Empty))]
    async fn list_replicas(
        &self,
        request: Request<pb::ListReplicasRequest>,
    ) -> Result<Response<pb::ListReplicasResponse>, Status> {
        self.allow(&request, Need::Read)?;
        let replicas = self.engine.replicas().await.map_err(ApiError::from)?;
        Ok(Response::new(pb::ListReplicasResponse {
            replicas: replicas.into_iter().map(replica_to_proto).collect(),
        }))
    }

    #[tracing::instrument(skip_all, fields(principal = tracing::field::Empty, definition = tracing::field::Empty))]
    async fn register_definition(
        &self,
        request: Request<pb::RegisterDefinitionRequest>,
    ) -> Result<Response<pb::RegisterDefinitionResponse>, Status> {
        self.allow(&request, Need::Administer)?;
        let request = request.into_inner();
        let definition = request
            .definition
            .ok_or_else(|| ApiError::invalid("definition", "must be given"))?;
        tracing::Span::current().record("definition", tracing::field::debug(&definition.name));
        if request.validate_only {
            let problems = self.definitions.validate(&definition).await;
            return Ok(Response::new(pb::RegisterDefinitionResponse {
                digest: saga_definitions::digest(&definition),
                name: definition.name,
                version: 0,
                created: false,
                problems: problems
                    .into_iter()
                    .map(|p| pb::DefinitionProblem {
                        location: p.location,
                        message: p.message,
                    })
                    .collect(),
            }));
        }
        let registered = self
            .definitions
            .register(&definition)
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(pb::RegisterDefinitionResponse {
            name: registered.name,
            version: registered.version,
            digest: registered.digest,
            created: registered.created,
            problems: Vec::new(),
        }))
    }

    #[tracing::instrument(skip_all, fields(principal = tracing::field::Empty, definition = ?request.get_ref().name))]
    async fn get_definition(
        &self,
        request: Request<pb::GetDefinitionRequest>,
    ) -> Result<Response<pb::DefinitionInfo>, Status> {
        self.allow(&request, Need::Read)?;
        let request = request.into_inner();
        if request.name.is_empty() {
            return Err(ApiError::invalid("name", "must not be empty").into());
        }
        let version = (request.version > 0).then_some(request.version);
        let info = self
            .definitions
            .get(&request.name, version)
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(definition_to_proto(info)))
    }

    #[tracing::instrument(skip_all, fields(principal = tracing::field::Empty))]
    async fn list_definitions(
        &self,
        request: Request<pb::ListDefinitionsRequest>,
    ) -> Result<Response<pb::ListDefinitionsResponse>, Status> {
        self.allow(&request, Need::Read)?;
        let all = self.definitions.list().await.map_err(ApiError::from)?;
        Ok(Response::new(pb::ListDefinitionsResponse {
            definitions: all.into_iter().map(definition_to_proto).collect(),
        }))
    }
}
