//! Just enough of the PostgreSQL wire protocol's framing for the fault proxy: the untyped
//! packets a client opens with (SSLRequest, GSSENCRequest, CancelRequest, the startup
//! message), then typed messages (one type byte, a big-endian `i32` length that counts
//! itself, the body) both ways, and the few messages whose content the proxy looks at.

use std::io;

use tokio::io::{AsyncRead, AsyncReadExt};

/// The request codes of the untyped packets that are not a startup message.
pub const SSL_REQUEST: i32 = 80_877_103;
pub const GSSENC_REQUEST: i32 = 80_877_104;
pub const CANCEL_REQUEST: i32 = 80_877_102;
/// Longer untyped packets than this are taken as garbage (a startup message is small).
const MAX_UNTYPED: usize = 64 * 1024;

/// Reads one untyped packet (length, then code and the rest), whole.
pub async fn read_untyped<R: AsyncRead + Unpin>(from: &mut R) -> io::Result<Vec<u8>> {
    let mut header = [0u8; 4];
    from.read_exact(&mut header).await?;
    let len = usize::try_from(i32::from_be_bytes(header)).unwrap_or(0);
    if !(8..=MAX_UNTYPED).contains(&len) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("an untyped packet of {len} bytes"),
        ));
    }
    let mut packet = vec![0u8; len];
    packet[..4].copy_from_slice(&header);
    from.read_exact(&mut packet[4..]).await?;
    Ok(packet)
}

/// The request code of an untyped packet (its second `i32`).
pub fn untyped_code(packet: &[u8]) -> i32 {
    packet
        .get(4..8)
        .and_then(|b| b.try_into().ok())
        .map_or(0, i32::from_be_bytes)
}

/// Whole typed messages cut out of a byte stream as it arrives.
#[derive(Debug, Default)]
pub struct Frames {
    pending: Vec<u8>,
}

impl Frames {
    /// Appends bytes as read.
    pub fn push(&mut self, bytes: &[u8]) {
        self.pending.extend_from_slice(bytes);
    }

    /// The next whole message (type byte, length and body), if it has all arrived; an
    /// error when the length cannot be one.
    pub fn next_frame(&mut self) -> io::Result<Option<Vec<u8>>> {
        let Some(header) = self.pending.get(1..5) else {
            return Ok(None);
        };
        let len = i32::from_be_bytes([header[0], header[1], header[2], header[3]]);
        let len = usize::try_from(len)
            .ok()
            .filter(|n| *n >= 4)
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("a message of length {len}"),
                )
            })?;
        if self.pending.len() < 1 + len {
            return Ok(None);
        }
        let rest = self.pending.split_off(1 + len);
        Ok(Some(std::mem::replace(&mut self.pending, rest)))
    }
}

/// What the proxy needs to know of a message from the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FromClient<'a> {
    /// A simple query (answered up to a ReadyForQuery).
    Query(&'a str),
    /// Parse: a statement's name and text.
    Parse {
        statement: &'a str,
        sql: &'a str,
    },
    /// Bind of a portal to a statement.
    Bind {
        statement: &'a str,
    },
    /// Close of a prepared statement.
    CloseStatement(&'a str),
    /// Sync: the end of an extended-protocol exchange (answered by a ReadyForQuery).
    Sync,
    Other,
}

/// What the proxy needs to know of a message from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FromServer<'a> {
    /// ReadyForQuery, with the session's transaction status: `I` idle, `T` in a
    /// transaction, `E` in a failed one.
    Ready(u8),
    /// CommandComplete, with its tag (`COMMIT`, `ROLLBACK`, `INSERT 0 1`, …).
    Complete(&'a str),
    Other,
}

/// Reads a message from the client (a whole frame).
pub fn from_client(frame: &[u8]) -> FromClient<'_> {
    let body = frame.get(5..).unwrap_or_default();
    let mut strings = CStrings(body);
    match frame.first() {
        Some(b'Q') => strings.next().map_or(FromClient::Other, FromClient::Query),
        Some(b'P') => match (strings.next(), strings.next()) {
            (Some(statement), Some(sql)) => FromClient::Parse { statement, sql },
            _ => FromClient::Other,
        },
        Some(b'B') => match (strings.next(), strings.next()) {
            (Some(_portal), Some(statement)) => FromClient::Bind { statement },
            _ => FromClient::Other,
        },
        Some(b'C') if body.first() == Some(&b'S') => CStrings(&body[1..])
            .next()
            .map_or(FromClient::Other, FromClient::CloseStatement),
        Some(b'S') => FromClient::Sync,
        _ => FromClient::Other,
    }
}

/// Reads a message from the server (a whole frame).
pub fn from_server(frame: &[u8]) -> FromServer<'_> {
    let body = frame.get(5..).unwrap_or_default();
    match (frame.first(), body.first()) {
        (Some(b'Z'), Some(status)) => FromServer::Ready(*status),
        (Some(b'C'), _) => CStrings(body)
            .next()
            .map_or(FromServer::Other, FromServer::Complete),
        _ => FromServer::Other,
    }
}

/// Whether `sql` writes: an INSERT, UPDATE or DELETE, or a WITH query holding one. Outside
/// a transaction such a statement commits as it ends.
pub fn is_write(sql: &str) -> bool {
    let upper = sql.trim_start().to_ascii_uppercase();
    let first = upper.split_whitespace().next().unwrap_or_default();
    let writes = |word: &str| matches!(word, "INSERT" | "UPDATE" | "DELETE");
    writes(first)
        || first == "WITH"
            && upper
                .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
                .any(writes)
}

/// Whether `sql` commits the transaction (`COMMIT` or `END`, as any client spells it).
pub fn is_commit(sql: &str) -> bool {
    let words: Vec<String> = sql
        .trim()
        .trim_end_matches(';')
        .split_whitespace()
        .map(str::to_ascii_uppercase)
        .collect();
    matches!(
        words.iter().map(String::as_str).collect::<Vec<_>>()[..],
        ["COMMIT" | "END"] | ["COMMIT" | "END", "WORK" | "TRANSACTION"]
    )
}

/// The NUL-terminated UTF-8 strings at the start of a body, in turn.
struct CStrings<'a>(&'a [u8]);

impl<'a> Iterator for CStrings<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let end = self.0.iter().position(|b| *b == 0)?;
        let (text, rest) = self.0.split_at(end);
        self.0 = &rest[1..];
        std::str::from_utf8(text).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(kind: u8, body: &[u8]) -> Vec<u8> {
        let len = i32::try_from(body.len() + 4).unwrap_or(i32::MAX);
        let mut frame = vec![kind];
        frame.extend_from_slice(&len.to_be_bytes());
        frame.extend_from_slice(body);
        frame
    }

    #[test]
    fn messages_are_cut_whole_however_the_bytes_arrive() -> io::Result<()> {
        let query = frame(b'Q', b"COMMIT\0");
        let sync = frame(b'S', b"");
        let stream: Vec<u8> = [query.clone(), sync.clone()].concat();
        let mut frames = Frames::default();
        let mut cut = Vec::new();
        for byte in &stream {
            frames.push(std::slice::from_ref(byte));
            while let Some(frame) = frames.next_frame()? {
                cut.push(frame);
            }
        }
        assert_eq!(cut, vec![query, sync]);
        Ok(())
    }

    #[test]
    fn a_length_below_four_is_refused() {
        let mut frames = Frames::default();
        frames.push(&[b'Q', 0, 0, 0, 3]);
        assert!(frames.next_frame().is_err());
    }

    #[test]
    fn reads_the_messages_the_proxy_looks_at() {
        assert_eq!(
            from_client(&frame(b'Q', b"COMMIT\0")),
            FromClient::Query("COMMIT")
        );
        assert_eq!(
            from_client(&frame(b'P', b"sqlx_s_1\0COMMIT\0\0\0")),
            FromClient::Parse {
                statement: "sqlx_s_1",
                sql: "COMMIT"
            }
        );
        assert_eq!(
            from_client(&frame(b'B', b"\0sqlx_s_1\0\0\0\0\0\0\0")),
            FromClient::Bind {
                statement: "sqlx_s_1"
            }
        );
        assert_eq!(
            from_client(&frame(b'C', b"Ssqlx_s_1\0")),
            FromClient::CloseStatement("sqlx_s_1")
        );
        assert_eq!(from_client(&frame(b'S', b"")), FromClient::Sync);
        assert_eq!(from_server(&frame(b'Z', b"T")), FromServer::Ready(b'T'));
        assert_eq!(
            from_server(&frame(b'C', b"COMMIT\0")),
            FromServer::Complete("COMMIT")
        );
        assert_eq!(from_server(&frame(b'D', b"\0\0")), FromServer::Other);
    }

    #[test]
    fn knows_a_commit_however_it_is_spelled() {
        for sql in [
            "COMMIT",
            "commit;",
            "  End  ",
            "COMMIT WORK",
            "end transaction;",
        ] {
            assert!(is_commit(sql), "{sql}");
        }
        for sql in ["COMMIT PREPARED 'x'", "ROLLBACK", "SELECT 'COMMIT'", ""] {
            assert!(!is_commit(sql), "{sql}");
        }
    }

    #[test]
    fn writes_are_inserts_updates_deletes_and_with_queries_holding_one() {
        for sql in [
            "INSERT INTO t VALUES (1)",
            " update t SET x = 1",
            "DELETE FROM t",
            "WITH moved AS (UPDATE t SET x = 2 RETURNING x) SELECT x FROM moved",
        ] {
            assert!(is_write(sql), "{sql}");
        }
        for sql in [
            "SELECT 1",
            "WITH a AS (SELECT 1) SELECT * FROM a",
            "BEGIN",
            "",
        ] {
            assert!(!is_write(sql), "{sql}");
        }
    }
}
