//! How a server is served with time limits, as each example does inline:
//! hyper's HTTP/1 with a timer, so a client that sends its request head
//! slowly is cut off, and tower-http's timeout around every request, so
//! none holds its connection forever.
//! (`BodyDigestLayer` bounds the time a bound body may take on its own.)

use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower_http::timeout::TimeoutLayer;

/// The time limits of a server.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timeouts {
    /// A request's head (line and headers) must arrive within this time.
    pub(crate) header: Duration,
    /// A request must be answered (its response head) within this time:
    /// `408` past it. Longer than a payment's settlement takes, which goes
    /// on to its end anyway, its outcome kept for the client's retry.
    pub(crate) request: Duration,
}

/// Serves `app` on `listener` with `timeouts`, one task per connection.
pub(crate) async fn serve_with(
    listener: TcpListener,
    app: Router,
    timeouts: Timeouts,
) -> std::io::Result<()> {
    let app = app.layer(TimeoutLayer::with_status_code(
        StatusCode::REQUEST_TIMEOUT,
        timeouts.request,
    ));
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // Out of file descriptors, say: wait, do not stop serving.
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let service = TowerToHyperService::new(app.clone());
        tokio::spawn(async move {
            let mut builder = http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(timeouts.header);
            // A connection's errors (a client gone, a head too slow) end
            // that connection only.
            let _ = builder
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades()
                .await;
        });
    }
}
