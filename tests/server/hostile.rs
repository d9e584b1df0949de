//! Malformed and hostile credentials: each one gets the right status and
//! problem type, a fresh challenge where due, and never runs the handler.

use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use axum::body::Body;
use serde_json::{Value, json};
use tower_mpp::binding::{BindingInput, SecretKey, SecretRing};
use tower_mpp::protocol::{Base64Json, Challenge, Credential, Timestamp, base64url};

use crate::common::{SECRET, app, challenge_for, get_req, pay, send, send_auth};

fn b64(value: &Value) -> String {
    format!("Payment {}", base64url::encode(value.to_string()))
}

/// Re-signs an altered challenge with the server's own secret: what a
/// forger could never do, used to reach the checks after the binding.
fn resign(mut challenge: Challenge) -> Challenge {
    let ring = SecretRing::new(SecretKey::new(SECRET).unwrap());
    challenge.id = ring.sign(&BindingInput::from_challenge(&challenge));
    challenge
}

fn flip_last(id: &str) -> String {
    let (head, last) = id.split_at(id.len() - 1);
    format!("{head}{}", if last == "A" { "B" } else { "A" })
}

fn credential_json(challenge: &Challenge) -> Value {
    let header = pay(challenge, "paid");
    let token = header.strip_prefix("Payment ").unwrap();
    serde_json::from_str(&base64url::decode_text(token).unwrap()).unwrap()
}

#[tokio::test]
#[allow(clippy::too_many_lines, clippy::semicolon_if_nothing_returned)]
async fn hostile_credentials_are_refused_without_running_the_handler() {
    let app = app();
    let good = challenge_for(&app.router, "GET", "/joke", "").await;
    let cheap_route = challenge_for(&app.router, "GET", "/joke", "").await;
    let expensive_route = challenge_for(&app.router, "GET", "/expensive", "").await;
    let euro_route = challenge_for(&app.router, "GET", "/euros", "").await;
    let good_json = credential_json(&good);
    let with = |path: &str, value: Value| {
        let mut v = good_json.clone();
        let mut target = &mut v;
        let mut parts = path.split('.').peekable();
        while let Some(part) = parts.next() {
            if parts.peek().is_none() {
                if value.is_null() {
                    target.as_object_mut().unwrap().remove(part);
                } else {
                    target[part] = value.clone();
                }
                break;
            }
            target = &mut target[part];
        }
        b64(&v)
    };
    let altered = |f: &dyn Fn(&mut Challenge)| {
        let mut c = good.clone();
        f(&mut c);
        c
    };
    let past = Timestamp::from_system_time(SystemTime::now() - Duration::from_secs(5)).unwrap();

    let cases: Vec<(&str, String, u16, &str)> = vec![
        (
            "not base64url",
            "Payment !!!notbase64!!!".into(),
            402,
            "malformed-credential",
        ),
        (
            "padded base64",
            format!("{}=", pay(&good, "paid")),
            402,
            "malformed-credential",
        ),
        (
            "standard alphabet",
            pay(&good, "paid").replace('-', "+").replace('_', "/") + "+/",
            402,
            "malformed-credential",
        ),
        (
            "not JSON",
            format!("Payment {}", base64url::encode("not json")),
            402,
            "malformed-credential",
        ),
        (
            "JSON array",
            b64(&json!([1, 2])),
            402,
            "malformed-credential",
        ),
        (
            "JSON string",
            b64(&json!("challenge")),
            402,
            "malformed-credential",
        ),
        (
            "invalid UTF-8",
            format!("Payment {}", base64url::encode([0xff, 0xfe, 0x7b])),
            402,
            "malformed-credential",
        ),
        (
            "missing challenge",
            with("challenge", Value::Null),
            402,
            "malformed-credential",
        ),
        (
            "missing payload",
            with("payload", Value::Null),
            402,
            "malformed-credential",
        ),
        (
            "payload a string",
            with("payload", json!("paid")),
            402,
            "malformed-credential",
        ),
        (
            "challenge a string",
            with("challenge", json!("abc")),
            402,
            "malformed-credential",
        ),
        (
            "id a number",
            with("challenge.id", json!(5)),
            402,
            "malformed-credential",
        ),
        (
            "empty id",
            with("challenge.id", json!("")),
            402,
            "malformed-credential",
        ),
        (
            "missing request",
            with("challenge.request", Value::Null),
            402,
            "malformed-credential",
        ),
        (
            "request not base64",
            with("challenge.request", json!("@@@")),
            402,
            "malformed-credential",
        ),
        (
            "uppercase method",
            with("challenge.method", json!("INVOICE")),
            402,
            "malformed-credential",
        ),
        (
            "source a number",
            with("source", json!(7)),
            402,
            "malformed-credential",
        ),
        (
            "wide integer in payload",
            format!(
                "Payment {}",
                base64url::encode(good_json.to_string().replace(
                    r#""payload":{"#,
                    r#""payload":{"n":123456789012345678901234567890,"#
                ))
            ),
            402,
            "malformed-credential",
        ),
        (
            "huge credential",
            format!("Payment {}", "A".repeat(70_000)),
            402,
            "malformed-credential",
        ),
        (
            "tampered id",
            with("challenge.id", json!(flip_last(&good.id))),
            402,
            "invalid-challenge",
        ),
        (
            "forged id",
            with(
                "challenge.id",
                json!("X6v1eo7fJ76gAxqY0xN9Jd__4lUyDDYmriryOM-5FO4"),
            ),
            402,
            "invalid-challenge",
        ),
        (
            "tampered amount",
            pay(
                &altered(&|c| {
                    c.request = Base64Json::from_value(
                        json!({"amount": "0", "currency": "usd", "recipient": "acct_1"}),
                    )
                    .unwrap()
                }),
                "paid",
            ),
            402,
            "invalid-challenge",
        ),
        (
            "tampered realm",
            pay(&altered(&|c| c.realm = "evil.example.com".into()), "paid"),
            402,
            "invalid-challenge",
        ),
        (
            "tampered expires",
            pay(
                &altered(&|c| c.expires = Some(Timestamp::parse("2099-01-01T00:00:00Z").unwrap())),
                "paid",
            ),
            402,
            "invalid-challenge",
        ),
        (
            "removed expires",
            pay(&altered(&|c| c.expires = None), "paid"),
            402,
            "invalid-challenge",
        ),
        (
            "tampered scope",
            pay(
                &altered(&|c| {
                    c.opaque = Some(Base64Json::from_value(json!({"scope": "GET /free"})).unwrap())
                }),
                "paid",
            ),
            402,
            "invalid-challenge",
        ),
        (
            "another realm, signed",
            pay(
                &resign(altered(&|c| c.realm = "other.example.com".into())),
                "paid",
            ),
            402,
            "invalid-challenge",
        ),
        (
            "unknown method, signed",
            pay(&resign(altered(&|c| c.method = "bitcoin".into())), "paid"),
            400,
            "method-unsupported",
        ),
        (
            "another intent, signed",
            pay(&resign(altered(&|c| c.intent = "session".into())), "paid"),
            402,
            "invalid-challenge",
        ),
        (
            "no expires, signed",
            pay(&resign(altered(&|c| c.expires = None)), "paid"),
            402,
            "invalid-challenge",
        ),
        (
            "expired, signed",
            pay(
                &resign(altered(&|c| c.expires = Some(past.clone()))),
                "paid",
            ),
            402,
            "payment-expired",
        ),
        (
            "cheaper amount, signed",
            pay(
                &resign(altered(&|c| {
                    c.request = Base64Json::from_value(
                        json!({"amount": "0", "currency": "usd", "recipient": "acct_1"}),
                    )
                    .unwrap()
                })),
                "paid",
            ),
            402,
            "invalid-challenge",
        ),
        (
            "other route's scope, signed",
            pay(
                &resign(altered(&|c| {
                    c.opaque =
                        Some(Base64Json::from_value(json!({"scope": "GET /expensive"})).unwrap())
                })),
                "paid",
            ),
            402,
            "invalid-challenge",
        ),
        (
            "no scope, signed",
            pay(&resign(altered(&|c| c.opaque = None)), "paid"),
            402,
            "invalid-challenge",
        ),
        (
            "digest on an unbound route, signed",
            pay(
                &resign(altered(&|c| c.digest = Some("sha-256=:abc=:".into()))),
                "paid",
            ),
            402,
            "verification-failed",
        ),
        (
            "another method's challenge (sepa) on a usd route",
            pay(&euro_route, "paid"),
            402,
            "invalid-challenge",
        ),
        (
            "invalid proof",
            pay(&cheap_route, "forged"),
            402,
            "verification-failed",
        ),
        (
            "insufficient payment",
            pay(&cheap_route, "short"),
            402,
            "payment-insufficient",
        ),
        (
            "other scheme only",
            "Bearer abc".into(),
            402,
            "payment-required",
        ),
    ];
    let mut checked = 0;
    for (name, authorization, status, code) in cases {
        let reply = send_auth(&app.router, "/joke", &authorization).await;
        assert_eq!(reply.status.as_u16(), status, "{name}: {}", reply.text());
        assert_eq!(reply.problem_code(), code, "{name}: {}", reply.text());
        assert!(reply.headers.get("payment-receipt").is_none(), "{name}");
        if status == 402 || status == 400 {
            assert!(!reply.challenges().is_empty(), "{name}: fresh challenges");
        }
        assert_eq!(
            app.runs.load(Ordering::SeqCst),
            0,
            "{name}: the handler ran"
        );
        checked += 1;
    }
    assert!(checked >= 30, "{checked} cases");

    // A challenge bought for the 1-cent route does not pay the 1-dollar one,
    // and the reverse does not pay the cheap one either.
    let reply = send_auth(&app.router, "/expensive", pay(&cheap_route, "paid")).await;
    reply.assert_rejected(402, "invalid-challenge");
    let reply = send_auth(&app.router, "/joke", pay(&expensive_route, "paid")).await;
    reply.assert_rejected(402, "invalid-challenge");
    assert_eq!(app.runs.load(Ordering::SeqCst), 0);
    assert!(
        app.calls.load(Ordering::SeqCst) <= 2,
        "no method call for anything caught before the method"
    );
}

#[tokio::test]
async fn two_payment_credentials_are_a_400() {
    let app = app();
    let c = challenge_for(&app.router, "GET", "/joke", "").await;
    let auth = pay(&c, "paid");
    let two_lines = get_req("/joke")
        .header("authorization", &auth)
        .header("authorization", &auth)
        .body(Body::empty())
        .unwrap();
    send(&app.router, two_lines)
        .await
        .assert_rejected(400, "malformed-credential");
    let joined = get_req("/joke")
        .header("authorization", format!("{auth}, {auth}"))
        .body(Body::empty())
        .unwrap();
    send(&app.router, joined)
        .await
        .assert_rejected(400, "malformed-credential");
    let beside_bearer = get_req("/joke")
        .header("authorization", format!("Bearer x, {auth}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&app.router, beside_bearer).await.status, 200);
    assert_eq!(app.runs.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_forged_id_never_reaches_the_method() {
    let app = app();
    let good = challenge_for(&app.router, "GET", "/joke", "").await;
    let mut forged = good.clone();
    forged.id =
        SecretRing::new(SecretKey::new("another secret, also thirty-two bytes long").unwrap())
            .sign(&BindingInput::from_challenge(&good));
    for _ in 0..10 {
        let reply = send_auth(&app.router, "/joke", pay(&forged, "paid")).await;
        reply.assert_rejected(402, "invalid-challenge");
    }
    assert_eq!(app.calls.load(Ordering::SeqCst), 0);
    let _ = Credential::parse(&pay(&good, "paid")).unwrap();
}
