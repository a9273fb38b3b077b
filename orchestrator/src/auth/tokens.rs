//! The token file (`--auth-token-file`): one `principal:role:token` a line, `#` comments
//! and blank lines ignored. A file with any bad line is refused whole, naming the line
//! (never its token), so that a typo cannot lock everyone out or let anyone in.

use subtle::ConstantTimeEq;

use super::Role;

/// The tokens of a file, with whom and which role each stands for.
#[derive(Clone, Default)]
pub struct Tokens(Vec<Holder>);

/// One line of the file.
#[derive(Clone)]
struct Holder {
    principal: String,
    role: Role,
    token: Vec<u8>,
}

/// A token file that cannot be used: which line and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct BadLine {
    pub line: usize,
    pub reason: String,
}

impl std::fmt::Debug for Tokens {
    /// Who holds a token, never the tokens.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let holders: Vec<(&str, Role)> = self
            .0
            .iter()
            .map(|h| (h.principal.as_str(), h.role))
            .collect();
        f.debug_tuple("Tokens").field(&holders).finish()
    }
}

impl Tokens {
    /// Reads the file's `text`.
    pub fn parse(text: &str) -> Result<Self, BadLine> {
        let mut holders: Vec<Holder> = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |reason: &str| BadLine {
                line: index + 1,
                reason: reason.to_string(),
            };
            let mut parts = line.splitn(3, ':');
            let (Some(principal), Some(role), Some(token)) =
                (parts.next(), parts.next(), parts.next())
            else {
                return Err(bad("expected principal:role:token"));
            };
            let principal = principal.trim();
            if principal.is_empty() || principal.chars().any(char::is_control) {
                return Err(bad("the principal is empty or holds control characters"));
            }
            let role = Role::parse(role.trim())
                .ok_or_else(|| bad("the role is not one of reader, operator, admin"))?;
            let token = token.trim().as_bytes().to_vec();
            if token.len() < 16 {
                return Err(bad("the token is shorter than 16 characters"));
            }
            if holders.iter().any(|h| bool::from(h.token.ct_eq(&token))) {
                return Err(bad("the token is also given on an earlier line"));
            }
            holders.push(Holder {
                principal: principal.to_string(),
                role,
                token,
            });
        }
        Ok(Self(holders))
    }

    /// Who holds `token`, and in which role. Every token is compared, each in constant
    /// time, so that how long it takes says nothing about which tokens exist.
    pub fn holder(&self, token: &[u8]) -> Option<(&str, Role)> {
        let mut found = None;
        for holder in &self.0 {
            if bool::from(holder.token.ct_eq(token)) {
                found = Some((holder.principal.as_str(), holder.role));
            }
        }
        found
    }

    /// How many tokens the file gives.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the file gives no token at all (then only open calls can be made).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str =
        "# who:role:token\nann:admin:aaaaaaaaaaaaaaaa\n\nbob:reader:bbbbbbbbbbbbbbbb\n";

    #[test]
    fn each_token_stands_for_its_principal_and_role() {
        let tokens = Tokens::parse(FILE).expect("a good file");
        assert_eq!(tokens.len(), 2);
        assert_eq!(
            tokens.holder(b"aaaaaaaaaaaaaaaa"),
            Some(("ann", Role::Admin))
        );
        assert_eq!(
            tokens.holder(b"bbbbbbbbbbbbbbbb"),
            Some(("bob", Role::Reader))
        );
        assert_eq!(tokens.holder(b"cccccccccccccccc"), None);
        assert_eq!(tokens.holder(b""), None);
    }

    #[test]
    fn a_bad_line_is_named_and_its_token_never_shown() {
        let cases = [
            ("ann:admin", 1),
            ("ann:boss:aaaaaaaaaaaaaaaa", 1),
            (":admin:aaaaaaaaaaaaaaaa", 1),
            ("ann:admin:short", 1),
            ("ann:admin:aaaaaaaaaaaaaaaa\nbob:reader:aaaaaaaaaaaaaaaa", 2),
        ];
        for (text, line) in cases {
            let error = Tokens::parse(text).expect_err(text);
            assert_eq!(error.line, line, "{text}");
            assert!(!error.to_string().contains("aaaa"), "{error}");
        }
        let debug = format!("{:?}", Tokens::parse(FILE).expect("good"));
        assert!(!debug.contains("aaaa"), "{debug}");
    }
}
