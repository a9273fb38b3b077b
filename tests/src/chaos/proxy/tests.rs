//! The proxy forwards, delays, refuses, holds and resets traffic as told, against a
//! loopback echo server.

use super::*;

async fn echo_server() -> Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut r, mut w) = stream.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    Ok(addr)
}

async fn round_trip(addr: SocketAddr) -> Result<Vec<u8>> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.write_all(b"ping").await?;
    let mut answer = vec![0u8; 4];
    stream.read_exact(&mut answer).await?;
    Ok(answer)
}

#[tokio::test]
async fn forwards_delays_refuses_and_holds_traffic_as_told() -> Result<()> {
    let upstream = echo_server().await?;
    let proxy = FaultProxy::start(TcpListener::bind("127.0.0.1:0").await?, upstream)?;
    assert_eq!(round_trip(proxy.addr()).await?, b"ping");

    proxy.set_mode(ProxyMode::Latency(Duration::from_millis(50)));
    let started = tokio::time::Instant::now();
    assert_eq!(round_trip(proxy.addr()).await?, b"ping");
    assert!(started.elapsed() >= Duration::from_millis(100));

    proxy.set_mode(ProxyMode::Refuse);
    assert!(round_trip(proxy.addr()).await.is_err(), "refused");

    proxy.set_mode(ProxyMode::Blackhole);
    let held = tokio::time::timeout(Duration::from_millis(200), round_trip(proxy.addr())).await;
    assert!(held.is_err(), "black-holed");

    proxy.set_mode(ProxyMode::Clean);
    assert_eq!(round_trip(proxy.addr()).await?, b"ping");
    let counts = proxy.counts();
    assert!(
        counts.resets >= 1 && counts.delayed_chunks >= 2,
        "{counts:?}"
    );
    Ok(())
}

#[tokio::test]
async fn a_reset_cuts_open_connections() -> Result<()> {
    let upstream = echo_server().await?;
    let proxy = FaultProxy::start(TcpListener::bind("127.0.0.1:0").await?, upstream)?;
    let mut stream = TcpStream::connect(proxy.addr()).await?;
    stream.write_all(b"ping").await?;
    let mut answer = vec![0u8; 4];
    stream.read_exact(&mut answer).await?;
    proxy.reset_connections();
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest)).await;
    assert!(matches!(read, Ok(Err(_)) | Ok(Ok(0))), "{read:?}");
    Ok(())
}
