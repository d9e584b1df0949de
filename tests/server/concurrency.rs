//! The same credential sent many times at once settles once; the others
//! are refused as used (402) or told to retry while it settles (503).

use std::sync::atomic::Ordering;

use crate::common::{app, challenge_for, pay, send_auth};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_credential_sent_200_times_at_once_settles_once() {
    let app = app();
    let challenge = challenge_for(&app.router, "GET", "/joke", "").await;
    let auth = pay(&challenge, "paid");
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(200));
    let mut tasks = Vec::new();
    for _ in 0..200 {
        let router = app.router.clone();
        let auth = auth.clone();
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            send_auth(&router, "/joke", auth).await
        }));
    }
    let mut served = 0;
    let mut refused = 0;
    for task in tasks {
        let reply = task.await.unwrap();
        match reply.status.as_u16() {
            200 => {
                assert!(reply.receipt().is_some());
                served += 1;
            }
            402 => {
                reply.assert_rejected(402, "invalid-challenge");
                refused += 1;
            }
            // Still settling for another request: retry (no receipt).
            503 => {
                assert!(reply.receipt().is_none());
                assert!(reply.headers.contains_key("retry-after"));
                refused += 1;
            }
            other => panic!("unexpected status {other}: {}", reply.text()),
        }
    }
    assert_eq!((served, refused), (1, 199));
    assert_eq!(app.runs.load(Ordering::SeqCst), 1);
}
