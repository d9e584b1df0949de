//! Slow clients over real TCP: a body that trickles into a route that
//! binds its digest is cut off with a 408 at the read deadline, and a
//! request head that trickles is cut off by the server settings each example has,
//! while other clients are served meanwhile.
#![cfg(feature = "axum")]

#[path = "support/serve.rs"]
#[allow(dead_code)]
mod serve;

use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::{get, post};
use serve::{Timeouts, serve_with};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tower_mpp::layer::BodyDigestLayer;

const DEADLINE: Duration = Duration::from_millis(800);

/// `GET /` and `POST /upload` (a bound body, read within [`DEADLINE`]),
/// served with the examples' settings (head within [`DEADLINE`]).
async fn server() -> String {
    let app = Router::new().route("/", get(|| async { "ok" })).route(
        "/upload",
        post(|body: String| async move { format!("{} bytes", body.len()) })
            .layer(BodyDigestLayer::default().read_timeout(DEADLINE)),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let timeouts = Timeouts {
        header: DEADLINE,
        request: Duration::from_secs(30),
    };
    tokio::spawn(serve_with(listener, app, timeouts));
    address
}

/// Writes `head`, then `trickle` one byte every 200 ms (stopping when the
/// server closes), and returns what the server answered and when.
async fn crawl(address: &str, head: &str, trickle: &str) -> (String, Duration) {
    let start = Instant::now();
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let trickle = trickle.to_owned();
    let writing = tokio::spawn(async move {
        for byte in trickle.bytes() {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if writer.write_all(&[byte]).await.is_err() {
                return;
            }
        }
    });
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), reader.read_to_end(&mut answer));
    assert!(read.await.is_ok(), "the slow client was never cut off");
    writing.abort();
    (
        String::from_utf8_lossy(&answer).into_owned(),
        start.elapsed(),
    )
}

/// While `slow` crawls, 20 ordinary requests are all served.
async fn others_are_served(address: &str) {
    let client = reqwest::Client::new();
    for _ in 0..20 {
        let reply = client
            .get(format!("http://{address}/"))
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 200);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickling_body_is_cut_off_with_408_while_others_are_served() {
    let address = server().await;
    let head = "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n";
    let body = "x".repeat(100);
    let ((answer, took), ()) =
        tokio::join!(crawl(&address, head, &body), others_are_served(&address));
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(took < DEADLINE * 3, "cut off after {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickling_head_is_cut_off_while_others_are_served() {
    let address = server().await;
    let ((_, took), ()) = tokio::join!(
        crawl(
            &address,
            "GET / HTTP/1.1\r\n",
            "X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n"
        ),
        others_are_served(&address)
    );
    assert!(took < DEADLINE * 3, "cut off after {took:?}");
}
