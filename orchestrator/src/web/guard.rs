//! The web routes' guard against other sites: a page elsewhere can neither make the
//! operator's browser act here (a cross-site POST) nor read this listener under a name
//! of its own that it points at it (DNS rebinding). `/metrics` is not behind it.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::uri::Authority;
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::WebError;

/// The host names the web routes answer to besides IP literals and `localhost`
/// (`--http-allowed-hosts`), so that a name an attacker controls, pointed at this
/// listener, is refused even though the browser thinks the page is the attacker's own.
#[derive(Debug, Clone, Default)]
pub struct AllowedHosts(Arc<[String]>);

impl AllowedHosts {
    /// The names in `names`, compared without case or a trailing dot.
    pub fn new(names: &[String]) -> Self {
        Self(names.iter().map(|name| canonical(name)).collect())
    }

    /// Whether a request's `Host` (without its port) is one to answer.
    fn allows(&self, host: &str) -> bool {
        let name = canonical(host);
        let literal = name.trim_start_matches('[').trim_end_matches(']');
        literal.parse::<IpAddr>().is_ok() || name == "localhost" || self.0.contains(&name)
    }
}

/// The middleware: a request the guard refuses is answered 403 `{code, message}`; any
/// other goes on to its route.
pub async fn check(State(allowed): State<AllowedHosts>, request: Request, next: Next) -> Response {
    match refusal(&allowed, &request) {
        Some(reason) => WebError::Forbidden(reason).into_response(),
        None => next.run(request).await,
    }
}

/// Why `request` may not reach the web routes, if it may not.
fn refusal(allowed: &AllowedHosts, request: &Request) -> Option<String> {
    let Some(host) = host_of(request) else {
        return Some("the request names no valid Host".to_string());
    };
    if !allowed.allows(host.host()) {
        return Some(format!(
            "this orchestrator does not answer to the host {:?} (--http-allowed-hosts)",
            host.host()
        ));
    }
    if request.method().is_safe() {
        return None;
    }
    let own = format!("{}://{host}", scheme_of(request));
    cross_site(request.headers(), &own)
}

/// The `Host` the request was sent to (HTTP/2: its URI's authority), without user info.
fn host_of(request: &Request) -> Option<Authority> {
    let text = match request.headers().get(header::HOST) {
        Some(value) => value.to_str().ok()?,
        None => request.uri().authority()?.as_str(),
    };
    let authority: Authority = text.parse().ok()?;
    (!authority.as_str().contains('@')).then_some(authority)
}

/// The scheme the browser used: the URI's, else a proxy's `X-Forwarded-Proto` (a cross-site
/// page cannot set it without a preflight this listener never grants), else `http`.
fn scheme_of(request: &Request) -> &str {
    let forwarded = request
        .headers()
        .get("x-forwarded-proto")
        .and_then(|value| value.to_str().ok())
        .filter(|proto| matches!(*proto, "http" | "https"));
    request.uri().scheme_str().or(forwarded).unwrap_or("http")
}

/// Why a state-changing request with these headers did not come from a page of this
/// orchestrator (`own` is its origin, `scheme://host`), if it did not. Either header may
/// be missing (older browsers, command-line clients); one that is present must agree.
fn cross_site(headers: &HeaderMap, own: &str) -> Option<String> {
    if let Some(site) = headers.get("sec-fetch-site")
        && !matches!(site.as_bytes(), b"same-origin" | b"none")
    {
        return Some(format!(
            "a request from another site ({}) may not change anything here",
            String::from_utf8_lossy(site.as_bytes())
        ));
    }
    let origin = headers.get(header::ORIGIN)?;
    let same = origin
        .to_str()
        .is_ok_and(|origin| origin.eq_ignore_ascii_case(own));
    (!same).then(|| {
        format!(
            "a request from {} may not change anything at {own}",
            String::from_utf8_lossy(origin.as_bytes())
        )
    })
}

/// A host name as compared: lowercase, without a trailing dot.
fn canonical(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}
