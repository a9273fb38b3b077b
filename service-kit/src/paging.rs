//! Page sizes and opaque page tokens for List RPCs (keyset paging on a row sequence).

/// Page size when the request says 0.
pub const DEFAULT_PAGE_SIZE: u32 = 50;
/// Largest page served; larger requests are clamped.
pub const MAX_PAGE_SIZE: u32 = 500;

/// The page size to serve for a requested one.
pub fn page_size(requested: u32) -> u32 {
    match requested {
        0 => DEFAULT_PAGE_SIZE,
        n => n.min(MAX_PAGE_SIZE),
    }
}

/// The page token was not one this service handed out.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("page_token is not a token returned by a previous call")]
pub struct InvalidPageToken;

/// Decodes a page token into the sequence to continue after (`None`: first page).
pub fn decode_token(token: &str) -> Result<Option<i64>, InvalidPageToken> {
    if token.is_empty() {
        return Ok(None);
    }
    let seq = token
        .strip_prefix("p")
        .and_then(|s| s.parse::<i64>().ok())
        .ok_or(InvalidPageToken)?;
    Ok(Some(seq))
}

/// The token for the page after the row with sequence `last_seq`, or empty when the
/// page was not full (nothing follows).
pub fn next_token(rows_returned: usize, page_size: u32, last_seq: Option<i64>) -> String {
    match last_seq {
        Some(seq) if rows_returned as u64 >= u64::from(page_size) => format!("p{seq}"),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_reject_foreign_text() {
        assert_eq!(decode_token(""), Ok(None));
        assert_eq!(decode_token(&next_token(2, 2, Some(41))), Ok(Some(41)));
        assert_eq!(decode_token("41"), Err(InvalidPageToken));
        assert_eq!(decode_token("pabc"), Err(InvalidPageToken));
        assert_eq!(next_token(1, 2, Some(41)), "");
    }

    #[test]
    fn page_size_defaults_and_clamps() {
        assert_eq!(page_size(0), DEFAULT_PAGE_SIZE);
        assert_eq!(page_size(7), 7);
        assert_eq!(page_size(10_000), MAX_PAGE_SIZE);
    }
}
