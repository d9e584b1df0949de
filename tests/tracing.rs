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

/// A span's name and its fields as text.
type Seen = (String, Vec<(String, String)>);

/// Spans seen by a subscriber.
#[derive(Clone, Default)]
struct Spans(Arc<Mutex<Vec<Seen>>>);

/// Collects a span's fields as `name = value` text.
struct Fields<'a>(&'a mut Vec<(String, String)>);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.push((field.name().to_owned(), format!("{value:?}")));
    }
}

impl<S> tracing_subscriber::Layer<S> for Spans
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        _: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let mut fields = vec![("id".to_owned(), id.into_u64().to_string())];
        attrs.record(&mut Fields(&mut fields));
        let name = attrs.metadata().name().to_owned();
        self.0.lock().unwrap().push((name, fields));
    }

    fn on_record(
        &self,
        id: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        _: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let key = id.into_u64().to_string();
        let mut spans = self.0.lock().unwrap();
        if let Some((_, fields)) = spans
            .iter_mut()
            .find(|(_, fields)| fields.iter().any(|(n, v)| n == "id" && *v == key))
        {
            values.record(&mut Fields(fields));
        }
    }
}

impl Spans {
    /// The `mpp.request` spans' fields, in order.
    fn requests(&self) -> Vec<std::collections::HashMap<String, String>> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|(name, _)| name == "mpp.request")
            .map(|(_, fields)| fields.iter().cloned().collect())
            .collect()
    }

    fn names(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|(n, _)| n.clone())
            .collect()
    }
}

/// Each paid request has an `mpp.request` span with its method, intent,
/// amount, outcome and the start of its challenge id, and `mpp.verify`
/// and `mpp.settle` children; no span holds a credential or a secret.
#[tokio::test]
async fn a_paid_request_has_a_span_with_its_outcome_and_no_secrets() {
    use tracing_subscriber::layer::SubscriberExt as _;

    let spans = Spans::default();
    let subscriber = tracing_subscriber::registry().with(spans.clone());
    let _guard = tracing::subscriber::set_default(subscriber);

    let app = app();
    let challenge = challenge_for(&app.router, "GET", "/joke", "").await;
    let paid = pay(&challenge, "paid");
    assert_eq!(send_auth(&app.router, "/joke", &paid).await.status, 200);
    let forged = pay(&challenge, "forged");
    assert_eq!(send_auth(&app.router, "/joke", &forged).await.status, 402);

    let names = spans.names();
    for name in ["mpp.request", "mpp.verify", "mpp.settle"] {
        assert!(names.iter().any(|n| n == name), "{name} in {names:?}");
    }
    let requests = spans.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    let (settled, refused) = (&requests[0], &requests[1]);
    assert_eq!(settled["method"], challenge.method);
    assert_eq!(settled["intent"], challenge.intent);
    assert!(!settled["amount"].is_empty());
    assert!(challenge.id.starts_with(&settled["challenge"]));
    assert!(settled["challenge"].len() < challenge.id.len());
    assert_eq!(settled["outcome"], "\"settled\"");
    assert_eq!(refused["outcome"], "\"refused\"");

    let everything = format!("{:?}", spans.0.lock().unwrap());
    for secret in [
        paid.trim_start_matches("Payment "),
        forged.trim_start_matches("Payment "),
        SECRET,
        "did:example:payer",
    ] {
        assert!(!everything.contains(secret), "{secret} leaked into a span");
    }
}
