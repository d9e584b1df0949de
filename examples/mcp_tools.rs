//! Paid MCP tools: an rmcp server whose `joke` tool costs 0.01 `PathUSD`
//! (a Tempo charge) and whose `ping` is free, over streamable HTTP at
//! `/mcp`, or over stdio with `MCP_TRANSPORT=stdio` (then stdout carries
//! only JSON-RPC; the realm is `MPP_REALM`, default `127.0.0.1`).
//!
//! ```sh
//! MPP_SECRET_KEY=... TEMPO_RECIPIENT=0x... TEMPO_RPC_URL=http://127.0.0.1:8545 \
//!     cargo run --example mcp_tools --features mcp,tempo,axum
//! ```
//!
//! `ADDR` (default `127.0.0.1:3000`) is where it listens over HTTP; the
//! Tempo variables are `TempoChargeBuilder::from_env`'s (see
//! `tower_mpp::tempo`). `scripts/demo` runs it and pays it with
//! `mcp_agent`.

use std::error::Error;
use std::io::Write as _;
use std::process::ExitCode;
use std::sync::Arc;

use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ServiceExt as _, tool, tool_router};
use tower_mpp::mcp::PaidServer;
use tower_mpp::method::Price;
use tower_mpp::tempo::TempoCharge;

/// The tools, written as any rmcp server: nothing here knows of payment.
#[derive(Debug, Clone)]
struct Jokes;

#[tool_router(server_handler)]
impl Jokes {
    #[tool(description = "A joke (0.01 PathUSD)")]
    async fn joke(&self) -> String {
        "Why did the agent pay for the joke? It had no account to laugh on.".to_owned()
    }

    #[tool(description = "Free: is the server up?")]
    async fn ping(&self) -> String {
        "pong".to_owned()
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn Error>> {
    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    // The realm defaults to the host served.
    let host = addr
        .rsplit_once(':')
        .map_or(addr.as_str(), |(host, _)| host);
    let payments = tower_mpp::method::Payments::builder()
        .realm_from_env(host)
        .secret_from_env()
        .method(TempoCharge::builder().from_env().connect().await?)
        .build()?;
    let server = PaidServer::new(Jokes, payments).tool(
        "joke",
        Price::new("0.01")?.description("A joke for an agent"),
    );
    if std::env::var("MCP_TRANSPORT").is_ok_and(|t| t == "stdio") {
        server
            .serve(rmcp::transport::stdio())
            .await?
            .waiting()
            .await?;
        return Ok(());
    }
    let mcp = StreamableHttpService::new(
        move || Ok(server.clone()),
        Arc::new(LocalSessionManager::default()),
        StreamableHttpServerConfig::default(),
    );
    let app = axum::Router::new().nest_service("/mcp", mcp);
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    // One flushed line that scripts wait for.
    println!("listening on http://{}", listener.local_addr()?);
    std::io::stdout().flush()?;
    // No request timeout here: an MCP session's event stream stays open.
    axum::serve(listener, app).await?;
    Ok(())
}
