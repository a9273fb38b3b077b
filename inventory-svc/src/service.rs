//! The inventory operations: each a single write transaction holding its barrier step,
//! its effect and its recorded answer.

use prost::Message;
use service_kit::barrier::{self, Entry};
use service_kit::db::{GroupWriter, RowExt, Tx};
use service_kit::on_backend;
use service_kit::participant::ParticipantError;
use service_kit::saga_call::SagaCall;

use crate::proto;

/// A validated `Reserve`: its barrier is keyed on the call's saga metadata.
#[derive(Debug, Clone)]
pub struct Reserve {
    pub call: SagaCall,
    pub saga_id: String,
    pub sku: String,
    pub quantity: u32,
}

/// A validated `Release`.
#[derive(Debug, Clone)]
pub struct Release {
    pub call: SagaCall,
    pub saga_id: String,
    pub reservation_id: Option<String>,
}

/// Holds stock for the saga, or replays the first answer; refused once released.
pub async fn reserve(
    writer: &GroupWriter,
    reserve: Reserve,
) -> Result<proto::Reservation, ParticipantError> {
    writer
        .write(move |tx| Box::pin(reserve_in(tx, reserve)))
        .await
}

async fn reserve_in(tx: &mut Tx, reserve: Reserve) -> Result<proto::Reservation, ParticipantError> {
    let step = reserve.call.barrier_step();
    match barrier::enter(&mut *tx, &step).await? {
        Entry::Repeat(first) => Ok(proto::Reservation::decode(first.as_slice())?),
        Entry::AlreadyCompensated | Entry::NothingToUndo => Err(ParticipantError::Refused(
            "the saga's reservation was already released".to_string(),
        )),
        Entry::First => {
            let answer = proto::Reservation {
                reservation_id: uuid::Uuid::new_v4().to_string(),
                saga_id: reserve.saga_id.clone(),
                sku: reserve.sku.clone(),
                quantity: reserve.quantity,
                status: proto::ReservationStatus::Held.into(),
            };
            on_backend!(&mut *tx, conn => {
                sqlx::query(
                    "INSERT INTO reservations (reservation_id, saga_id, sku, quantity, status)
                     VALUES ($1, $2, $3, $4, 'HELD')",
                )
                .bind(&answer.reservation_id)
                .bind(&answer.saga_id)
                .bind(&answer.sku)
                .bind(i64::from(answer.quantity))
                .execute(conn)
                .await?;
            });
            barrier::finish(&mut *tx, &step, &answer.encode_to_vec()).await?;
            tracing::info!(reservation.id = %answer.reservation_id, "stock reserved");
            Ok(answer)
        }
    }
}

/// Releases the saga's reservation (a tombstone when it never reserved), or replays the
/// first answer.
pub async fn release(
    writer: &GroupWriter,
    release: Release,
) -> Result<proto::ReleaseResponse, ParticipantError> {
    writer
        .write(move |tx| Box::pin(release_in(tx, release)))
        .await
}

async fn release_in(
    tx: &mut Tx,
    release: Release,
) -> Result<proto::ReleaseResponse, ParticipantError> {
    let step = release.call.barrier_step();
    match barrier::enter(&mut *tx, &step).await? {
        Entry::Repeat(first) => Ok(proto::ReleaseResponse::decode(first.as_slice())?),
        Entry::NothingToUndo => {
            let tombstone = proto::ReleaseResponse { reservation: None };
            barrier::finish(&mut *tx, &step, &tombstone.encode_to_vec()).await?;
            Ok(tombstone)
        }
        Entry::AlreadyCompensated | Entry::First => {
            let reservation = release_held(tx, &release).await?;
            let answer = proto::ReleaseResponse { reservation };
            barrier::finish(&mut *tx, &step, &answer.encode_to_vec()).await?;
            Ok(answer)
        }
    }
}

/// Marks the saga's reservation RELEASED and returns it; the id, when given, must be it.
async fn release_held(
    tx: &mut Tx,
    release: &Release,
) -> Result<Option<proto::Reservation>, ParticipantError> {
    let row = on_backend!(&mut *tx, conn => {
        let row = sqlx::query(
            "UPDATE reservations SET status = 'RELEASED' WHERE saga_id = $1
             RETURNING reservation_id, saga_id, sku, quantity",
        )
        .bind(&release.saga_id)
        .fetch_optional(conn)
        .await?;
        row.map(|r| -> Result<_, sqlx::Error> {
            Ok((r.text("reservation_id")?, r.text("saga_id")?, r.text("sku")?, r.int("quantity")?))
        })
        .transpose()?
    });
    let Some((reservation_id, saga_id, sku, quantity)) = row else {
        return Ok(None);
    };
    if release
        .reservation_id
        .as_ref()
        .is_some_and(|id| *id != reservation_id)
    {
        // The saga id is the key; a stale id from the caller changes nothing.
        tracing::warn!(reservation.id = %reservation_id, "released the saga's reservation, not the one named");
    }
    Ok(Some(proto::Reservation {
        reservation_id,
        saga_id,
        sku,
        quantity: u32::try_from(quantity).unwrap_or(u32::MAX),
        status: proto::ReservationStatus::Released.into(),
    }))
}
