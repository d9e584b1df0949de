//! With the `tracing` feature, payments are traced without credentials,
//! signatures or secrets in the output.
#![cfg(all(feature = "tracing", feature = "axum"))]

#[path = "server/common.rs"]
#[allow(dead_code)]
mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::{SECRET, app, challenge_for, pay, send_auth};

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
