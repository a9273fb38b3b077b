//! The web API over a real orchestrator in this process (SQLite, no participant
//! reachable): its files, its JSON answers, bad requests answered 400 naming the field
//! (never a panic), and the guard refusing other sites and foreign host names.

use std::net::SocketAddr;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::startup::App;

/// A running orchestrator with its HTTP listener; stopped when dropped.
struct Running {
    http: SocketAddr,
    shutdown: CancellationToken,
    _dir: tempfile::TempDir,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

async fn orchestrator() -> Running {
    orchestrator_allowing(&[]).await
}

/// An orchestrator whose page also answers to the host names `allowed`.
async fn orchestrator_allowing(allowed: &[&str]) -> Running {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let database = format!("sqlite://{}", dir.path().join("log.db").display());
    // Nothing listens on the discard port: no saga is started here.
    let nowhere = "http://127.0.0.1:9";
    let mut config = Config::local("127.0.0.1:0", &database, nowhere, nowhere);
    config.http_listen = Some("127.0.0.1:0".into());
    config.http_allowed_hosts = allowed.iter().map(|name| name.to_string()).collect();
    let app = App::build(config).await.expect("the orchestrator starts");
    let http = app.http_addr().expect("an HTTP listener");
    let shutdown = CancellationToken::new();
    tokio::spawn(app.run_until(shutdown.clone()));
    Running {
        http,
        shutdown,
        _dir: dir,
    }
}

/// One HTTP/1.1 exchange: the status code, the headers' text and the body.
async fn exchange(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<(&str, &str)>,
) -> (u16, String, String) {
    let host = format!("Host: {addr}");
    exchange_with(addr, method, path, &[&host], body).await
}

/// [`exchange`] with these header lines (`Name: value`) instead of the usual `Host`.
async fn exchange_with(
    addr: SocketAddr,
    method: &str,
    path: &str,
    header_lines: &[&str],
    body: Option<(&str, &str)>,
) -> (u16, String, String) {
    let mut stream = TcpStream::connect(addr).await.expect("connects");
    let mut request = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    for line in header_lines {
        request.push_str(&format!("{line}\r\n"));
    }
    let (content_type, text) = body.unwrap_or(("", ""));
    if !content_type.is_empty() {
        request.push_str(&format!("Content-Type: {content_type}\r\n"));
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n{text}", text.len()));
    stream.write_all(request.as_bytes()).await.expect("sends");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.expect("reads");
    let (head, body) = answer.split_once("\r\n\r\n").expect("an HTTP answer");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .expect("a status code");
    (status, head.to_ascii_lowercase(), body.to_string())
}

async fn json(addr: SocketAddr, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
    let body = body.map(|text| ("application/json", text));
    let (status, _, text) = exchange(addr, method, path, body).await;
    let value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("JSON from {path}: {text}"));
    (status, value)
}

#[tokio::test]
async fn the_page_and_its_files_are_served_from_the_binary() {
    let running = orchestrator().await;
    let (status, head, page) = exchange(running.http, "GET", "/", None).await;
    assert_eq!(status, 200);
    assert!(head.contains("content-type: text/html"), "{head}");
    assert!(page.contains("/assets/app.js"), "{page}");
    for asset in ["style.css", "app.js", "saga.js", "timeline.js"] {
        let (status, _, _) = exchange(running.http, "GET", &format!("/assets/{asset}"), None).await;
        assert_eq!(status, 200, "{asset}");
    }
    let (status, body) = json(running.http, "GET", "/assets/missing.js", None).await;
    assert_eq!((status, &body["code"]), (404, &Value::from("NOT_FOUND")));
    let (status, _, metrics) = exchange(running.http, "GET", "/metrics", None).await;
    assert_eq!(status, 200, "/metrics is still served: {metrics}");
}

#[tokio::test]
async fn the_api_answers_proto3_json() {
    let running = orchestrator().await;
    let (status, listed) = json(running.http, "GET", "/api/sagas?status=failed", None).await;
    assert_eq!(status, 200, "{listed}");
    assert!(listed.is_object(), "{listed}");
    let (status, definitions) = json(running.http, "GET", "/api/definitions", None).await;
    assert_eq!(status, 200);
    let names: Vec<&str> = definitions["definitions"]
        .as_array()
        .map(|all| {
            all.iter()
                .filter_map(|d| d["definition"]["name"].as_str())
                .collect()
        })
        .unwrap_or_default();
    assert!(names.contains(&"place-order"), "{definitions}");
    let (status, place_order) = json(
        running.http,
        "GET",
        "/api/definitions/place-order?version=1",
        None,
    )
    .await;
    assert_eq!((status, &place_order["version"]), (200, &Value::from(1)));
}

#[tokio::test]
async fn bad_requests_are_answered_400_naming_the_field() {
    let running = orchestrator().await;
    let resolve = "/api/sagas/s-1/resolve";
    let cases = [
        ("GET", "/api/sagas?status=lost", None, 400, "status"),
        (
            "GET",
            "/api/sagas?stuck_for_ms=soon",
            None,
            400,
            "stuck_for_ms",
        ),
        ("GET", "/api/sagas?colour=red", None, 400, "colour"),
        ("GET", "/api/events?status=lost", None, 400, "status"),
        ("POST", resolve, Some("{not json"), 400, "JSON"),
        ("POST", resolve, Some(r#"{"reason": 5}"#), 400, "reason"),
        ("POST", "/api/sagas/s-1/skip", Some("[]"), 400, ""),
        ("GET", "/api/sagas/s-1", None, 404, "s-1"),
        ("GET", "/api/sagas/s-1/events", None, 404, "s-1"),
        (
            "POST",
            resolve,
            Some(r#"{"reason": "r", "request_id": "q"}"#),
            404,
            "s-1",
        ),
        ("GET", "/api/nothing", None, 404, "/api/nothing"),
    ];
    for (method, path, body, expected, names) in cases {
        let (status, answer) = json(running.http, method, path, body).await;
        let message = answer["message"].as_str().unwrap_or_default();
        assert_eq!(status, expected, "{method} {path} {body:?}: {answer}");
        assert!(message.contains(names), "{method} {path}: {answer}");
        assert!(answer["code"].is_string(), "{method} {path}: {answer}");
    }
    let (status, _, _) = exchange(running.http, "POST", resolve, Some(("text/plain", "{}"))).await;
    assert_eq!(status, 415, "a body that is not JSON by its type");
}

/// The status and `code` of a request with these header lines (a JSON body when `body`).
async fn guarded(
    addr: SocketAddr,
    method: &str,
    path: &str,
    header_lines: &[&str],
    body: Option<&str>,
) -> (u16, String) {
    let body = body.map(|text| ("application/json", text));
    let (status, _, text) = exchange_with(addr, method, path, header_lines, body).await;
    let answer: Value = serde_json::from_str(&text).unwrap_or_default();
    let code = answer["code"].as_str().unwrap_or_default().to_string();
    (status, code)
}

#[tokio::test]
async fn a_post_from_another_site_is_refused_and_one_from_the_page_goes_through() {
    let running = orchestrator().await;
    let addr = running.http;
    let host = format!("Host: {addr}");
    let own = format!("Origin: http://{addr}");
    let resolve = "/api/sagas/s-1/resolve";
    let body = Some(r#"{"reason": "r", "request_id": "q"}"#);
    let refused = (403, "PERMISSION_DENIED".to_string());
    // Through to the service, which does not know s-1.
    let through = (404, "NOT_FOUND".to_string());
    let cases: [(&[&str], _); 7] = [
        (&[&host, "Origin: http://evil.example"], &refused),
        (&[&host, "Origin: null"], &refused),
        (&[&host, "Sec-Fetch-Site: cross-site"], &refused),
        (&[&host, &own, "Sec-Fetch-Site: same-site"], &refused),
        (&[&host, &own, "Sec-Fetch-Site: same-origin"], &through),
        (&[&host, &own], &through),
        (&[&host], &through),
    ];
    for (header_lines, expected) in cases {
        let answer = guarded(addr, "POST", resolve, header_lines, body).await;
        assert_eq!(&answer, expected, "{header_lines:?}");
    }
    let read = guarded(
        addr,
        "GET",
        "/api/sagas",
        &[&host, "Origin: http://evil.example"],
        None,
    )
    .await;
    assert_eq!(read.0, 200, "reading is not acting: {read:?}");
}

#[tokio::test]
async fn only_ip_literals_localhost_and_allowed_names_reach_the_page() {
    let running = orchestrator_allowing(&["saga.ops.example"]).await;
    let addr = running.http;
    let port = addr.port();
    let cases = [
        (format!("Host: {addr}"), 200),
        (format!("Host: [::1]:{port}"), 200),
        (format!("Host: localhost:{port}"), 200),
        (format!("Host: SAGA.ops.example:{port}"), 200),
        (format!("Host: rebound.example:{port}"), 403),
        ("Host: ops.example".to_string(), 403),
        (format!("Host: user@127.0.0.1:{port}"), 403),
    ];
    for (host, expected) in cases {
        let (status, code) = guarded(addr, "GET", "/api/sagas", &[&host], None).await;
        assert_eq!(status, expected, "{host}: {code}");
    }
    let foreign = format!("Host: rebound.example:{port}");
    let (status, code) = guarded(addr, "GET", "/", &[&foreign], None).await;
    assert_eq!((status, code.as_str()), (403, "PERMISSION_DENIED"));
    let (status, _, _) = exchange_with(addr, "GET", "/metrics", &[&foreign], None).await;
    assert_eq!(status, 200, "/metrics is not behind the guard");
}
