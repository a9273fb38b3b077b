//! Registered saga definitions: immutable versions by name, one per distinct body.

use async_trait::async_trait;
use service_kit::db::{RowExt, Tx};
use service_kit::on_backend;

use super::StoreError;
use super::sql::SqlStore;

/// A definition version to register: its canonical body and the descriptors it was
/// checked against, both encoded.
#[derive(Debug, Clone, Copy)]
pub struct NewDefinition<'a> {
    pub name: &'a str,
    pub digest: &'a str,
    pub body: &'a [u8],
    pub descriptors: &'a [u8],
}

/// A stored version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDefinition {
    pub name: String,
    pub version: u32,
    pub digest: String,
    pub body: Vec<u8>,
    pub descriptors: Vec<u8>,
    /// On the database's clock.
    pub registered_at_ms: i64,
}

/// What a registration did: the version holding the body, and whether it is new.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    pub definition: StoredDefinition,
    pub created: bool,
}

/// The definitions table. Every method is one transaction.
#[async_trait]
pub trait DefinitionStore: Send + Sync + 'static {
    /// The version holding this body under the name, or a new one after the latest.
    async fn register(&self, new: NewDefinition<'_>) -> Result<Registered, StoreError>;
    /// One version; `None` for the latest.
    async fn definition(
        &self,
        name: &str,
        version: Option<u32>,
    ) -> Result<Option<StoredDefinition>, StoreError>;
    /// The latest version of each name, by name.
    async fn latest_definitions(&self) -> Result<Vec<StoredDefinition>, StoreError>;
    /// The version of `name` holding the body with this digest, if one does.
    async fn definition_with_digest(
        &self,
        name: &str,
        digest: &str,
    ) -> Result<Option<StoredDefinition>, StoreError>;
}

/// The columns of a [`StoredDefinition`].
macro_rules! columns {
    () => {
        "name, version, digest, body, descriptors, registered_at_ms"
    };
}

#[async_trait]
impl DefinitionStore for SqlStore {
    async fn register(&self, new: NewDefinition<'_>) -> Result<Registered, StoreError> {
        let mut tx = self.db().begin_write().await?;
        let registered = register(&mut tx, new).await?;
        tx.commit().await?;
        Ok(registered)
    }

    async fn definition(
        &self,
        name: &str,
        version: Option<u32>,
    ) -> Result<Option<StoredDefinition>, StoreError> {
        let mut tx = self.db().begin_read().await?;
        let found = select(&mut tx, name, version).await?;
        tx.commit().await?;
        Ok(found)
    }

    async fn definition_with_digest(
        &self,
        name: &str,
        digest: &str,
    ) -> Result<Option<StoredDefinition>, StoreError> {
        let mut tx = self.db().begin_read().await?;
        let found = select_digest(&mut tx, name, digest).await?;
        tx.commit().await?;
        Ok(found)
    }

    async fn latest_definitions(&self) -> Result<Vec<StoredDefinition>, StoreError> {
        let sql = concat!(
            "SELECT ",
            columns!(),
            " FROM definitions d WHERE version =
               (SELECT MAX(version) FROM definitions WHERE name = d.name) ORDER BY name"
        );
        let mut tx = self.db().begin_read().await?;
        let all = on_backend!(&mut tx, conn => {
            let rows = sqlx::query(sql).fetch_all(conn).await?;
            rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?
        });
        tx.commit().await?;
        Ok(all)
    }
}

/// Registrations of one name run one at a time (SQLite has one writer; PostgreSQL takes
/// a lock on the name for the transaction), so each sees the versions before it.
async fn register(tx: &mut Tx, new: NewDefinition<'_>) -> Result<Registered, StoreError> {
    if let Tx::Postgres(conn) = tx {
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(new.name)
            .execute(&mut **conn)
            .await?;
    }
    if let Some(definition) = select_digest(tx, new.name, new.digest).await? {
        return Ok(Registered {
            definition,
            created: false,
        });
    }
    macro_rules! insert {
        ($backend:ident) => {
            concat!(
                "INSERT INTO definitions (name, version, digest, body, descriptors, registered_at_ms)
                 SELECT $1, COALESCE(MAX(version), 0) + 1, $2, $3, $4, ",
                db_now_ms!($backend),
                " FROM definitions WHERE name = $1
                 RETURNING ",
                columns!()
            )
        };
    }
    let sql = match tx {
        Tx::Sqlite(_) => insert!(sqlite),
        Tx::Postgres(_) => insert!(postgres),
    };
    let definition = on_backend!(tx, conn => {
        let row = sqlx::query(sql)
            .bind(new.name)
            .bind(new.digest)
            .bind(new.body)
            .bind(new.descriptors)
            .fetch_one(conn)
            .await?;
        from_row(&row)?
    });
    Ok(Registered {
        definition,
        created: true,
    })
}

async fn select_digest(
    tx: &mut Tx,
    name: &str,
    digest: &str,
) -> Result<Option<StoredDefinition>, StoreError> {
    let sql = concat!(
        "SELECT ",
        columns!(),
        " FROM definitions WHERE name = $1 AND digest = $2"
    );
    Ok(on_backend!(tx, conn => {
        let row = sqlx::query(sql)
            .bind(name)
            .bind(digest)
            .fetch_optional(conn)
            .await?;
        row.as_ref().map(from_row).transpose()?
    }))
}

async fn select(
    tx: &mut Tx,
    name: &str,
    version: Option<u32>,
) -> Result<Option<StoredDefinition>, StoreError> {
    let sql = concat!(
        "SELECT ",
        columns!(),
        " FROM definitions WHERE name = $1 AND ($2 IS NULL OR version = $2)
         ORDER BY version DESC LIMIT 1"
    );
    let version = version.map(i64::from);
    Ok(on_backend!(tx, conn => {
        let row = sqlx::query(sql)
            .bind(name)
            .bind(version)
            .fetch_optional(conn)
            .await?;
        row.as_ref().map(from_row).transpose()?
    }))
}

fn from_row(row: &impl RowExt) -> Result<StoredDefinition, StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("definition row without {what}"));
    Ok(StoredDefinition {
        name: row.text("name")?,
        version: u32::try_from(row.int("version")?).map_err(|_| corrupt("a valid version"))?,
        digest: row.text("digest")?,
        body: row.bytes("body")?.ok_or_else(|| corrupt("a body"))?,
        descriptors: row
            .bytes("descriptors")?
            .ok_or_else(|| corrupt("descriptors"))?,
        registered_at_ms: row.int("registered_at_ms")?,
    })
}

#[cfg(test)]
mod tests;
