//! The page's files (`orchestrator/web/`), embedded in the binary: nothing to build or
//! install at run time, and nothing loaded from anywhere but this orchestrator (the
//! content security policy says so to the browser too).

use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::error::WebError;

/// One embedded file.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static str,
}

const JS: &str = "text/javascript; charset=utf-8";

/// Every file under `/assets/`.
const ASSETS: &[Asset] = &[
    Asset {
        name: "style.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("../../web/style.css"),
    },
    Asset {
        name: "app.js",
        content_type: JS,
        body: include_str!("../../web/app.js"),
    },
    Asset {
        name: "api.js",
        content_type: JS,
        body: include_str!("../../web/api.js"),
    },
    Asset {
        name: "format.js",
        content_type: JS,
        body: include_str!("../../web/format.js"),
    },
    Asset {
        name: "list.js",
        content_type: JS,
        body: include_str!("../../web/list.js"),
    },
    Asset {
        name: "saga.js",
        content_type: JS,
        body: include_str!("../../web/saga.js"),
    },
    Asset {
        name: "timeline.js",
        content_type: JS,
        body: include_str!("../../web/timeline.js"),
    },
    Asset {
        name: "actions.js",
        content_type: JS,
        body: include_str!("../../web/actions.js"),
    },
    Asset {
        name: "definitions.js",
        content_type: JS,
        body: include_str!("../../web/definitions.js"),
    },
];

const INDEX: &str = include_str!("../../web/index.html");

/// Only this orchestrator's own files, scripts and connections.
const POLICY: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; \
    script-src 'self'; connect-src 'self'; frame-ancestors 'none'";

/// `GET /`: the page.
pub async fn index() -> Response {
    served("text/html; charset=utf-8", INDEX)
}

/// `GET /assets/{name}`.
pub async fn file(Path(name): Path<String>) -> Result<Response, WebError> {
    ASSETS
        .iter()
        .find(|asset| asset.name == name)
        .map(|asset| served(asset.content_type, asset.body))
        .ok_or_else(|| WebError::NoRoute(format!("/assets/{name}")))
}

fn served(content_type: &'static str, body: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // A new orchestrator may bring a new page: the browser asks again each time.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(POLICY),
    );
    response
}
