//! A plain HTTP/1.0 GET over loopback, enough to scrape a service's `/metrics`.

use std::net::SocketAddr;

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// The body of `GET path` at `addr`, which must answer 200.
pub async fn get(addr: SocketAddr, path: &str) -> Result<String> {
    let stream = TcpStream::connect(addr)
        .await
        .with_context(|| format!("cannot reach {addr}"))?;
    get_over(stream, addr, path).await
}

/// The body of `GET path` over `stream` (e.g. a TLS stream) to `addr`, which must answer 200.
pub async fn get_over(
    mut stream: impl AsyncRead + AsyncWrite + Unpin,
    addr: SocketAddr,
    path: &str,
) -> Result<String> {
    let request = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await?;
    let (head, body) = answer
        .split_once("\r\n\r\n")
        .with_context(|| format!("not an HTTP answer: {answer:?}"))?;
    if !head.starts_with("HTTP/1.0 200") && !head.starts_with("HTTP/1.1 200") {
        bail!("GET {path} answered {head:?}");
    }
    Ok(body.to_string())
}

/// The value of the sample `name` (with its labels as written, e.g. `a_total{x="y"}`) in
/// a Prometheus text page, if present.
pub fn sample(page: &str, name: &str) -> Option<f64> {
    page.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            line.strip_prefix(name)?
                .strip_prefix(' ')?
                .trim()
                .parse()
                .ok()
        })
}

/// An HTTP answer: its status code and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

/// `METHOD path` at `addr` with `headers` (`name: value` each) and a JSON `body` when
/// given, whatever the status of the answer.
pub async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[String],
    body: Option<&str>,
) -> Result<Answer> {
    let mut stream = TcpStream::connect(addr)
        .await
        .with_context(|| format!("cannot reach {addr}"))?;
    let mut request = format!("{method} {path} HTTP/1.0\r\nHost: {addr}\r\n");
    for header in headers {
        request.push_str(&format!("{header}\r\n"));
    }
    if let Some(body) = body {
        request.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ));
    } else {
        request.push_str("\r\n");
    }
    stream.write_all(request.as_bytes()).await?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await?;
    let (head, body) = answer
        .split_once("\r\n\r\n")
        .with_context(|| format!("not an HTTP answer: {answer:?}"))?;
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .with_context(|| format!("no status in {head:?}"))?;
    Ok(Answer {
        status,
        body: body.to_string(),
    })
}

/// The value of the sample `name` whose labels are exactly `labels` (in any order; values
/// without commas) in a Prometheus text page, if present.
pub fn sample_of(page: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut wanted: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    wanted.sort();
    page.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (metric, rest) = match series.split_once('{') {
                Some((metric, rest)) => (metric, rest.strip_suffix('}')?),
                None => (series, ""),
            };
            if metric != name {
                return None;
            }
            let mut found: Vec<String> = match rest {
                "" => Vec::new(),
                rest => rest.split(',').map(str::to_string).collect(),
            };
            found.sort();
            (found == wanted).then(|| value.trim().parse().ok())?
        })
}
