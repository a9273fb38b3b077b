//! The inventory operations, decided a batch at a time as a write plan: a batch reads
//! its sagas' reservations with one statement, decides each call in memory (seeing what
//! the calls before it decided), and writes its new reservations and its releases with
//! one statement each, with the barrier's records, in the batch's one commit.

use prost::Message;
use service_kit::barrier::{Entry, Step};
use service_kit::db::{self, GroupWriter, RowExt, Tx, TxFuture};
use service_kit::on_backend;
use service_kit::participant::ParticipantError;
use service_kit::saga_call::SagaCall;
use service_kit::write_plan::{BySaga, Records, WritePlan};
use sqlx::AssertSqlSafe;

use crate::proto;

/// The inventory participant's writer.
pub type Writer = GroupWriter<InventoryPlan>;

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

/// A saga's call on its reservation.
#[derive(Debug)]
pub enum Call {
    Reserve(Reserve),
    Release(Release),
}

/// Holds stock for the saga, or replays the first answer; refused once released, or
/// when the saga already holds a reservation (one per saga).
pub async fn reserve(
    writer: &Writer,
    reserve: Reserve,
) -> Result<proto::Reservation, ParticipantError> {
    let answer = writer.planned(Call::Reserve(reserve)).await?;
    Ok(proto::Reservation::decode(answer.as_slice())?)
}

/// Releases the saga's reservation (a tombstone when it never reserved), or replays the
/// first answer.
pub async fn release(
    writer: &Writer,
    release: Release,
) -> Result<proto::ReleaseResponse, ParticipantError> {
    let answer = writer.planned(Call::Release(release)).await?;
    Ok(proto::ReleaseResponse::decode(answer.as_slice())?)
}

/// The plan of the inventory's calls.
#[derive(Debug)]
pub struct InventoryPlan;

/// A batch's reservations, by saga, and what it changed.
#[derive(Debug, Default)]
pub struct View {
    slots: BySaga<Slot>,
}

#[derive(Debug)]
struct Slot {
    reservation: proto::Reservation,
    reserved_here: bool,
    released_here: bool,
}

impl WritePlan for InventoryPlan {
    type Request = Call;
    type Error = ParticipantError;
    type View = View;

    fn step(call: &Call) -> Step<'_> {
        match call {
            Call::Reserve(reserve) => reserve.call.barrier_step(),
            Call::Release(release) => release.call.barrier_step(),
        }
    }

    fn read<'t>(
        &'t self,
        tx: &'t mut Tx,
        calls: &'t [Call],
    ) -> TxFuture<'t, Result<View, sqlx::Error>> {
        Box::pin(async move {
            let sagas: Vec<&str> = calls
                .iter()
                .map(|call| match call {
                    Call::Reserve(reserve) => reserve.saga_id.as_str(),
                    Call::Release(release) => release.saga_id.as_str(),
                })
                .collect();
            let mut view = View::default();
            for reservation in reservations_of(tx, &sagas).await? {
                view.add(reservation, false);
            }
            Ok(view)
        })
    }

    fn decide(
        &self,
        view: &mut View,
        _: &Records,
        call: Call,
        entry: Entry,
    ) -> Result<Vec<u8>, ParticipantError> {
        match call {
            Call::Reserve(reserve) => reserve_in(view, reserve, entry),
            Call::Release(release) => Ok(release_in(view, &release, entry)),
        }
    }

    fn write<'t>(&'t self, tx: &'t mut Tx, view: View) -> TxFuture<'t, Result<(), sqlx::Error>> {
        Box::pin(async move {
            let slots = view.slots.iter();
            let reserved: Vec<&proto::Reservation> = slots
                .clone()
                .filter(|slot| slot.reserved_here)
                .map(|slot| &slot.reservation)
                .collect();
            insert_reservations(tx, &reserved).await?;
            let released: Vec<&str> = slots
                .filter(|slot| slot.released_here && !slot.reserved_here)
                .map(|slot| slot.reservation.saga_id.as_str())
                .collect();
            mark_released(tx, &released).await
        })
    }
}

impl View {
    fn add(&mut self, reservation: proto::Reservation, reserved_here: bool) {
        let saga_id = reservation.saga_id.clone();
        let slot = Slot {
            reservation,
            reserved_here,
            released_here: false,
        };
        self.slots.add(&saga_id, slot);
    }
}

fn reserve_in(
    view: &mut View,
    reserve: Reserve,
    entry: Entry,
) -> Result<Vec<u8>, ParticipantError> {
    if entry != Entry::First {
        return Err(ParticipantError::Refused(
            "the saga's reservation was already released".to_string(),
        ));
    }
    if let Some(held) = view.slots.get_mut(&reserve.saga_id) {
        return Err(ParticipantError::Refused(format!(
            "the saga already holds reservation {:?}",
            held.reservation.reservation_id
        )));
    }
    let answer = proto::Reservation {
        reservation_id: uuid::Uuid::new_v4().to_string(),
        saga_id: reserve.saga_id,
        sku: reserve.sku,
        quantity: reserve.quantity,
        status: proto::ReservationStatus::Held.into(),
    };
    tracing::info!(reservation.id = %answer.reservation_id, "stock reserved");
    let encoded = answer.encode_to_vec();
    view.add(answer, true);
    Ok(encoded)
}

/// Releases the saga's reservation, if it holds one; a compensation with nothing to undo
/// answers (and records) none.
fn release_in(view: &mut View, release: &Release, entry: Entry) -> Vec<u8> {
    let slot = match entry {
        Entry::NothingToUndo => None,
        _ => view.slots.get_mut(&release.saga_id),
    };
    let reservation = slot.map(|slot| {
        if let Some(named) = release
            .reservation_id
            .as_ref()
            .filter(|id| **id != slot.reservation.reservation_id)
        {
            // The saga id is the key; a stale id from the caller changes nothing.
            tracing::warn!(reservation.id = %slot.reservation.reservation_id, named = %named, "released the saga's reservation, not the one named");
        }
        slot.reservation.status = proto::ReservationStatus::Released.into();
        slot.released_here = true;
        slot.reservation.clone()
    });
    proto::ReleaseResponse { reservation }.encode_to_vec()
}

/// The reservations of `sagas` (one each at most).
async fn reservations_of(
    tx: &mut Tx,
    sagas: &[&str],
) -> Result<Vec<proto::Reservation>, sqlx::Error> {
    if sagas.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT reservation_id, saga_id, sku, quantity, status FROM reservations
         WHERE saga_id IN ({})",
        db::placeholder_list(tx, sagas.len(), 1)
    );
    on_backend!(tx, conn => {
        let mut query = sqlx::query(AssertSqlSafe(sql.as_str()));
        for saga in sagas {
            query = query.bind(*saga);
        }
        let rows = query.fetch_all(conn).await?;
        rows.iter()
            .map(|row| {
                let status = match row.text("status")?.as_str() {
                    "RELEASED" => proto::ReservationStatus::Released,
                    _ => proto::ReservationStatus::Held,
                };
                Ok(proto::Reservation {
                    reservation_id: row.text("reservation_id")?,
                    saga_id: row.text("saga_id")?,
                    sku: row.text("sku")?,
                    quantity: u32::try_from(row.int("quantity")?).unwrap_or(u32::MAX),
                    status: status.into(),
                })
            })
            .collect()
    })
}

async fn insert_reservations(
    tx: &mut Tx,
    reservations: &[&proto::Reservation],
) -> Result<(), sqlx::Error> {
    if reservations.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO reservations (reservation_id, saga_id, sku, quantity, status) VALUES {}",
        db::placeholder_rows(tx, 5, reservations.len(), 1)
    );
    on_backend!(tx, conn => {
        let mut query = sqlx::query(AssertSqlSafe(sql.as_str()));
        for reservation in reservations {
            let status = match reservation.status() {
                proto::ReservationStatus::Released => "RELEASED",
                _ => "HELD",
            };
            query = query
                .bind(&reservation.reservation_id)
                .bind(&reservation.saga_id)
                .bind(&reservation.sku)
                .bind(i64::from(reservation.quantity))
                .bind(status);
        }
        query.execute(conn).await.map(|_| ())
    })
}

async fn mark_released(tx: &mut Tx, sagas: &[&str]) -> Result<(), sqlx::Error> {
    if sagas.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "UPDATE reservations SET status = 'RELEASED' WHERE saga_id IN ({})",
        db::placeholder_list(tx, sagas.len(), 1)
    );
    on_backend!(tx, conn => {
        let mut query = sqlx::query(AssertSqlSafe(sql.as_str()));
        for saga in sagas {
            query = query.bind(*saga);
        }
        query.execute(conn).await.map(|_| ())
    })
}
