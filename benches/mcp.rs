//! The cost of payment on an MCP tool call, in process: rmcp's client and
//! server over a duplex pipe (JSON-RPC framing, serde, tasks), with
//! `PaidServer` in front of a tool that answers at once.
//!
//! - `mcp/free`: a tool without a price (the baseline round trip);
//! - `mcp/-32042`: the priced tool called without a credential (the
//!   challenges issued and written as JSON);
//! - `mcp/paid`: the priced tool with a fresh credential (read from
//!   `_meta`, verified by `Payments::verify` with a method that accepts at
//!   once, claimed in the in-memory store, the receipt in `_meta`).
//!
//! `paid - free` is what payment adds to a call beyond the method's own
//! work (a Tempo proof's signature recovery is measured in
//! `benches/tempo.rs`).
#![allow(missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ErrorData,
    RequestMetaObject,
};
use rmcp::service::{RequestContext, RoleClient, RoleServer, RunningService};
use rmcp::{ServerHandler, ServiceExt as _};
use serde_json::{Map, Value, json};
use tower_mpp::mcp::PaidServer;
use tower_mpp::mcp::wire::{
    challenge_to_json, credential_from_json, credential_to_json, receipt_to_json,
};
use tower_mpp::method::{
    ChargeContext, MethodError, PaymentMethod, Payments, Price, Settlement, Verification,
    VerifyError,
};

struct Instant;

impl PaymentMethod for Instant {
    fn name(&self) -> &'static str {
        "instant"
    }

    fn request(&self, _: &str, price: &Price) -> Result<Option<Map<String, Value>>, MethodError> {
        let units = price
            .amount()
            .to_base_units(6)
            .map_err(|e| MethodError::new("price").with_source(e))?;
        let Value::Object(request) = json!({
            "amount": units.to_string(),
            "currency": "0x20c0000000000000000000000000000000000000",
            "recipient": "0x742d35Cc6634C0532925a3b844Bc9e7595f8fE00",
        }) else {
            unreachable!()
        };
        Ok(Some(request))
    }

    async fn verify(&self, verification: &Verification<'_>) -> Result<Settlement, VerifyError> {
        Ok(Settlement::new(
            verification.credential.challenge.id.clone(),
        ))
    }
}

#[derive(Clone, Default)]
struct Tool(Arc<AtomicUsize>);

impl ServerHandler for Tool {
    async fn call_tool(
        &self,
        _: CallToolRequestParams,
        _: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(CallToolResult::success(vec![ContentBlock::text("ok")]).into())
    }
}

fn price() -> Price {
    Price::new("0.01").unwrap()
}

/// A fresh credential for `paid`, as a client sends it.
fn credential(payments: &Payments) -> Value {
    let ctx = ChargeContext {
        scope: "tools/call paid",
        ..ChargeContext::default()
    };
    let challenge = &payments.challenges(&price(), &ctx).unwrap()[0];
    let mut payload = Map::new();
    payload.insert("proof".into(), "ok".into());
    credential_to_json(&challenge_to_json(challenge), &payload, None)
}

fn call(name: &str, credential: Option<Value>) -> CallToolRequestParams {
    let mut params = CallToolRequestParams::new(name.to_owned());
    if let Some(credential) = credential {
        let mut meta = RequestMetaObject::new();
        meta.insert("org.paymentauth/credential".into(), credential);
        params.meta = Some(meta);
    }
    params
}

async fn connect(server: PaidServer<Tool>) -> RunningService<RoleClient, ()> {
    let (server_io, client_io) = tokio::io::duplex(1 << 16);
    tokio::spawn(async move {
        let running = server.serve(server_io).await.unwrap();
        let _ = running.waiting().await;
    });
    ().serve(client_io).await.unwrap()
}

fn benches(c: &mut Criterion) {
    let payments = Payments::builder()
        .realm("api.example.com")
        .secret("bench secret: at least thirty-two bytes long")
        .method(Instant)
        .build()
        .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let server = PaidServer::new(Tool::default(), payments.clone()).tool("paid", price());
    let client = runtime.block_on(connect(server));

    let mut group = c.benchmark_group("mcp");
    group.bench_function("free", |b| {
        b.to_async(&runtime).iter(|| async {
            let result = client.call_tool(call("free", None)).await.unwrap();
            assert!(result.meta.is_none());
        });
    });
    // The same round trip carrying a credential the free tool ignores: what
    // moving the credential through rmcp costs.
    let carried = credential(&payments);
    group.bench_function("free, carrying a credential", |b| {
        b.to_async(&runtime).iter(|| async {
            let result = client
                .call_tool(call("free", Some(carried.clone())))
                .await
                .unwrap();
            assert!(result.meta.is_none());
        });
    });
    group.bench_function("-32042", |b| {
        b.to_async(&runtime).iter(|| async {
            let error = client.call_tool(call("paid", None)).await.unwrap_err();
            assert!(matches!(error, rmcp::ServiceError::McpError(e) if e.code.0 == -32042));
        });
    });
    group.bench_function("paid", |b| {
        b.to_async(&runtime).iter_batched(
            || credential(&payments),
            |credential| {
                let client = &client;
                async move {
                    let result = client
                        .call_tool(call("paid", Some(credential)))
                        .await
                        .unwrap();
                    assert!(result.meta.is_some());
                }
            },
            BatchSize::SmallInput,
        );
    });
    // What `PaidServer` itself does for a paid call, without rmcp: read the
    // credential's JSON, verify and claim it, write the receipt's JSON.
    group.bench_function("paid, server work only", |b| {
        let ctx = ChargeContext {
            scope: "tools/call paid",
            ..ChargeContext::default()
        };
        let price = price();
        b.to_async(&runtime).iter_batched(
            || credential(&payments),
            |value| {
                let (payments, ctx, price) = (&payments, &ctx, &price);
                async move {
                    let credential = credential_from_json(&value).unwrap();
                    let receipt = payments.verify(price, ctx, &credential).await.unwrap();
                    receipt_to_json(&receipt, &credential.challenge.id).unwrap()
                }
            },
            BatchSize::SmallInput,
        );
    });
    group.finish();
}

criterion_group!(mcp, benches);
criterion_main!(mcp);
