//! A saga status's short name (`COMPLETED` for `SAGA_STATUS_COMPLETED`), as people type and
//! read it on the command line and the web page: one spelling, both ways.

use crate::saga::v1::SagaStatus;

/// The enum's prefix, which the short name leaves out.
const PREFIX: &str = "SAGA_STATUS_";

impl SagaStatus {
    /// `COMPLETED` for `SAGA_STATUS_COMPLETED`.
    pub fn short_name(self) -> &'static str {
        let name = self.as_str_name();
        name.strip_prefix(PREFIX).unwrap_or(name)
    }

    /// The status `text` names, in any case, with or without the `SAGA_STATUS_` prefix;
    /// `None` for anything else, `UNSPECIFIED` included.
    pub fn from_short_name(text: &str) -> Option<Self> {
        let upper = text.trim().to_ascii_uppercase();
        let name = match upper.starts_with(PREFIX) {
            true => upper,
            false => format!("{PREFIX}{upper}"),
        };
        Self::from_str_name(&name).filter(|status| *status != SagaStatus::Unspecified)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_read_back_in_any_spelling() {
        for text in ["failed", "FAILED", "SAGA_STATUS_FAILED", " Failed "] {
            assert_eq!(SagaStatus::from_short_name(text), Some(SagaStatus::Failed));
        }
        assert_eq!(SagaStatus::Resolved.short_name(), "RESOLVED");
        for text in ["", "unspecified", "done"] {
            assert_eq!(SagaStatus::from_short_name(text), None, "{text:?}");
        }
    }
}
