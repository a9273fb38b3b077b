//! Validation of the fields every participant request carries: the saga id, required
//! and bounded ids, the currency and the page token. Each error names its field.

use super::error::ParticipantError;
use crate::paging;

/// Longest accepted saga id, in bytes.
pub const MAX_SAGA_ID_BYTES: usize = 128;

/// The saga a call belongs to: present and at most [`MAX_SAGA_ID_BYTES`] long.
pub fn saga_id(value: String) -> Result<String, ParticipantError> {
    bounded("saga_id", value, MAX_SAGA_ID_BYTES)
}

/// `value` of `field`, an id: not empty, without control characters.
pub fn required(field: &str, value: String) -> Result<String, ParticipantError> {
    if value.is_empty() {
        return Err(ParticipantError::invalid(field, "must not be empty"));
    }
    if crate::text::has_control(&value) {
        return Err(ParticipantError::invalid(
            field,
            crate::text::CONTROL_CHARACTER,
        ));
    }
    Ok(value)
}

/// `value` of `field`, which must not be empty nor longer than `max_bytes`.
pub fn bounded(field: &str, value: String, max_bytes: usize) -> Result<String, ParticipantError> {
    let value = required(field, value)?;
    if value.len() > max_bytes {
        return Err(ParticipantError::invalid(
            field,
            format!("must be at most {max_bytes} bytes"),
        ));
    }
    Ok(value)
}

/// An optional filter or id: an empty string means absent.
pub fn optional(value: String) -> Option<String> {
    Some(value).filter(|value| !value.is_empty())
}

/// The `currency` field: an ISO 4217 style code of three upper-case letters.
pub fn currency(value: String) -> Result<String, ParticipantError> {
    if value.len() != 3 || !value.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(ParticipantError::invalid(
            "currency",
            "must be three upper-case letters, e.g. EUR",
        ));
    }
    Ok(value)
}

/// The `page_token` field: the row sequence to continue after (`None`: the first page),
/// refused unless this service handed the token out.
pub fn page_token(token: &str) -> Result<Option<i64>, ParticipantError> {
    paging::decode_token(token).map_err(|_| {
        ParticipantError::invalid("page_token", "is not a token returned by a previous call")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The field and reason of a refusal, or the accepted value.
    fn outcome<T>(result: Result<T, ParticipantError>) -> Result<T, (String, String)> {
        result.map_err(|error| match error {
            ParticipantError::Invalid { field, reason } => (field, reason),
            other => panic!("expected a validation error, got {other:?}"),
        })
    }

    fn refused(field: &str, reason: &str) -> (String, String) {
        (field.to_string(), reason.to_string())
    }

    #[test]
    fn a_saga_id_must_be_present_and_at_most_128_bytes() {
        assert_eq!(outcome(saga_id("s-1".into())), Ok("s-1".to_string()));
        assert_eq!(outcome(saga_id("s".repeat(128))), Ok("s".repeat(128)));
        assert_eq!(
            outcome(saga_id("s".repeat(129))),
            Err(refused("saga_id", "must be at most 128 bytes"))
        );
        assert_eq!(
            outcome(saga_id(String::new())),
            Err(refused("saga_id", "must not be empty"))
        );
    }

    #[test]
    fn required_and_bounded_fields_are_refused_by_name() {
        assert_eq!(
            outcome(required("order_id", String::new())),
            Err(refused("order_id", "must not be empty"))
        );
        assert_eq!(
            outcome(required("order_id", "o".into())),
            Ok("o".to_string())
        );
        assert_eq!(
            outcome(bounded("customer_id", "ccc".into(), 2)),
            Err(refused("customer_id", "must be at most 2 bytes"))
        );
        assert_eq!(
            outcome(bounded("customer_id", String::new(), 2)),
            Err(refused("customer_id", "must not be empty"))
        );
    }

    #[test]
    fn an_empty_optional_is_absent() {
        assert_eq!(optional(String::new()), None);
        assert_eq!(optional("x".into()), Some("x".to_string()));
    }

    #[test]
    fn a_currency_is_three_upper_case_letters() {
        assert_eq!(outcome(currency("EUR".into())), Ok("EUR".to_string()));
        for bad in ["eur", "Eur", "EU", "EURO", "", "E1R"] {
            assert_eq!(
                outcome(currency(bad.into())),
                Err(refused(
                    "currency",
                    "must be three upper-case letters, e.g. EUR"
                )),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_page_token_is_empty_or_one_this_service_handed_out() {
        assert_eq!(outcome(page_token("")), Ok(None));
        assert_eq!(
            outcome(page_token(&paging::next_token(1, 1, Some(7)))),
            Ok(Some(7))
        );
        assert_eq!(
            outcome(page_token("junk")),
            Err(refused(
                "page_token",
                "is not a token returned by a previous call"
            ))
        );
    }
}
