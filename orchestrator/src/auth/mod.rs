//! Who may do what. With `--auth-token-file`, operators' actions need the token of an
//! operator or an admin, registering a definition an admin's, and, with `--auth-read`,
//! every read any holder's; starting sagas stays open to clients. Without a token file
//! nobody is asked and everyone is `anonymous`. Checked by the gRPC service itself
//! (`api`), so that the web page, which calls it in process, is held to the same rules.
//! The file is read again on SIGHUP; a file that cannot be used then keeps the tokens in
//! force.

mod tokens;

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use tokio_util::sync::CancellationToken;
use tonic::metadata::MetadataMap;

pub use tokens::{BadLine, Tokens};

/// Who asks when nobody is asked for a token.
pub const ANONYMOUS: &str = "anonymous";

/// A token's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Reads sagas and definitions.
    Reader,
    /// Also acts on sagas: retry, abort, resolve, skip.
    Operator,
    /// Also registers definitions.
    Admin,
}

impl Role {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "reader" => Some(Role::Reader),
            "operator" => Some(Role::Operator),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reader => "reader",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }
}

/// What a call needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// A read: open unless `--auth-read`, then any role.
    Read,
    /// An operator's action on a saga.
    Operate,
    /// Registering a definition.
    Administer,
}

impl Need {
    /// The least role that may do it.
    fn role(self) -> Role {
        match self {
            Need::Read => Role::Reader,
            Need::Operate => Role::Operator,
            Need::Administer => Role::Admin,
        }
    }
}

/// Who asked, as the saga log names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal(pub String);

impl Principal {
    pub fn anonymous() -> Self {
        Self(ANONYMOUS.to_string())
    }
}

/// Why a call was not let through.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    /// No token, or one the file does not give: UNAUTHENTICATED.
    #[error("{0}")]
    Unauthenticated(&'static str),
    /// A known holder whose role does not allow the call: PERMISSION_DENIED.
    #[error("{principal} has the role {role}; this needs the role {needed} or above")]
    Forbidden {
        principal: String,
        role: &'static str,
        needed: &'static str,
    },
}

/// A token file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TokenFileError {
    #[error("cannot read the token file {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the token file {path} is not usable")]
    Bad {
        path: String,
        #[source]
        source: BadLine,
    },
}

/// The rules in force: none (everyone may do anything), or a token file's.
#[derive(Debug, Clone, Default)]
pub struct Access {
    checked: Option<Checked>,
}

#[derive(Debug, Clone)]
struct Checked {
    path: PathBuf,
    tokens: Arc<RwLock<Arc<Tokens>>>,
    /// `--auth-read`: reads need a token too.
    reads: bool,
}

impl Access {
    /// Nobody is asked for a token.
    pub fn open() -> Self {
        Self::default()
    }

    /// The tokens in `path`; `reads`: reads need one too.
    pub fn from_file(path: &Path, reads: bool) -> Result<Self, TokenFileError> {
        let tokens = read(path)?;
        tracing::info!(file = %path.display(), tokens = tokens.len(), reads_checked = reads, "tokens in force");
        Ok(Self {
            checked: Some(Checked {
                path: path.to_path_buf(),
                tokens: Arc::new(RwLock::new(Arc::new(tokens))),
                reads,
            }),
        })
    }

    /// Who sent `metadata`'s `authorization: Bearer TOKEN`, if it allows what `need`s.
    pub fn check(&self, metadata: &MetadataMap, need: Need) -> Result<Principal, Denied> {
        let Some(checked) = &self.checked else {
            return Ok(Principal::anonymous());
        };
        let open = need == Need::Read && !checked.reads;
        let Some(token) = bearer(metadata) else {
            return match open {
                true => Ok(Principal::anonymous()),
                false => Err(Denied::Unauthenticated(
                    "this call needs authorization: Bearer TOKEN",
                )),
            };
        };
        let tokens = checked.current();
        let (principal, role) = tokens.holder(token).ok_or(Denied::Unauthenticated(
            "the token is not one this orchestrator knows",
        ))?;
        if role < need.role() {
            return Err(Denied::Forbidden {
                principal: principal.to_string(),
                role: role.as_str(),
                needed: need.role().as_str(),
            });
        }
        Ok(Principal(principal.to_string()))
    }

    /// Reads the token file again on every SIGHUP of `hangups` (listened for from the
    /// start, so that an early one never ends the process) until `shutdown`; without a
    /// token file, a SIGHUP does nothing.
    pub async fn reload_on_sighup(
        self,
        mut hangups: tokio::signal::unix::Signal,
        shutdown: CancellationToken,
    ) {
        loop {
            tokio::select! {
                Some(()) = hangups.recv() => match &self.checked {
                    Some(checked) => checked.reload(),
                    None => tracing::info!("SIGHUP: no token file to read again"),
                },
                () = shutdown.cancelled() => return,
            }
        }
    }
}

impl Checked {
    fn current(&self) -> Arc<Tokens> {
        let tokens = self
            .tokens
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Arc::clone(&tokens)
    }

    fn reload(&self) {
        match read(&self.path) {
            Ok(tokens) => {
                tracing::info!(file = %self.path.display(), tokens = tokens.len(), "SIGHUP: tokens replaced");
                let mut current = self
                    .tokens
                    .write()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                *current = Arc::new(tokens);
            }
            Err(error) => {
                let error = service_kit::telemetry::error_chain(&error);
                tracing::error!(%error, "SIGHUP: tokens kept as they were");
            }
        }
    }
}

fn read(path: &Path) -> Result<Tokens, TokenFileError> {
    let shown = || path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| TokenFileError::Read {
        path: shown(),
        source,
    })?;
    Tokens::parse(&text).map_err(|source| TokenFileError::Bad {
        path: shown(),
        source,
    })
}

/// The token of `authorization: Bearer TOKEN`, if the metadata has one.
fn bearer(metadata: &MetadataMap) -> Option<&[u8]> {
    let value = metadata.get("authorization")?.as_bytes();
    let (scheme, token) = value.split_at_checked(7)?;
    scheme
        .eq_ignore_ascii_case(b"bearer ")
        .then(|| token.trim_ascii())
        .filter(|token| !token.is_empty())
}

#[cfg(test)]
mod tests;
