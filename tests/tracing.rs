//! With the `tracing` feature, payments are traced without credentials,
//! signatures or secrets in the output.
#![cfg(all(feature = "tracing", feature = "axum"))]

#[path = "server/common.rs"]
#[allow(dead_code)]
mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::{SECRET, app, challenge_for, pay, send_auth};

#[cfg(feature = "redis")]
#[path = "support/redis_server.rs"]
mod redis_server;

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn traces_name_payments_but_never_carry_secrets() {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let app = app();
    let challenge = challenge_for(&app.router, "GET", "/joke", "").await;
    let paid = pay(&challenge, "paid");
    let reply = send_auth(&app.router, "/joke", &paid).await;
    assert_eq!(reply.status, 200);
    let forged = pay(&challenge, "forged");
    send_auth(&app.router, "/joke", &forged).await;

    let output = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    assert!(output.contains("payment required"), "{output}");
    assert!(output.contains("payment settled"), "{output}");
    assert!(output.contains("payment refused"), "{output}");
    for secret in [
        paid.trim_start_matches("Payment "),
        forged.trim_start_matches("Payment "),
        SECRET,
        "did:example:payer",
    ] {
        assert!(!output.contains(secret), "{secret} leaked into traces");
    }
}

/// Connecting to a Redis that keeps nothing on disk warns the operator:
/// a restart would let payments already served be served again.
#[cfg(feature = "redis")]
#[tokio::test]
async fn a_redis_without_persistence_is_a_warning_at_connect_time() {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = redis_server::RedisServer::start();
    tower_mpp::store::RedisStore::connect(&server.url())
        .await
        .unwrap();
    let output = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    assert!(output.contains("WARN"), "{output}");
    assert!(output.contains("does not persist"), "{output}");
    assert!(output.contains("appendonly yes"), "{output}");
}
