//! Our MCP client paying the peers' MCP servers.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use alloy::primitives::{Address, U256};
use alloy::signers::local::PrivateKeySigner;
use rmcp::ServiceExt as _;
use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::{RoleClient, RunningService, ServiceError};
use rmcp::transport::StreamableHttpClientTransport;
use serde_json::json;
use tower_mpp::client::mcp::{McpPayer, PaidResult};
use tower_mpp::client::{PaymentProvider, TempoProvider};
use tower_mpp::mcp::wire::credential_to_json;

use crate::anvil::{Anvil, CHAIN_ID, PATH_USD};
use crate::common::{challenges, mcp_error, parsed, tool_call};
use crate::listening::Listening;
use crate::peer_server::node;
use crate::pympp_venv::pympp_python;

const PRICE: u128 = 10_000;
/// The realm the peers sign: the host our client connects to.
const REALM: &str = "127.0.0.1";

/// A peer's MCP server (`command`, a script of tests/peers) charging
/// `recipient` on `anvil`, and our MCP client connected to its `/mcp`.
struct PeerMcp {
    server: Listening,
    client: RunningService<RoleClient, ()>,
}

impl PeerMcp {
    async fn start(mut command: Command, anvil: &Anvil, recipient: Address, name: &str) -> Self {
        command
            .env("TEMPO_RPC_URL", &anvil.url)
            .env("TEMPO_CHAIN_ID", CHAIN_ID.to_string())
            .env("TEMPO_RECIPIENT", recipient.to_string())
            .env(
                "MPP_SECRET_KEY",
                "mcp peer tests: a secret of thirty-two bytes",
            )
            .env("MPP_REALM", REALM)
            .stdin(Stdio::piped());
        let name = name.to_owned();
        let server = tokio::task::spawn_blocking(move || {
            Listening::start(
                &mut command,
                &name,
                "listening ",
                Duration::from_secs(30),
                "run scripts/test, which installs the peer SDKs",
            )
        })
        .await
        .unwrap();
        let transport = StreamableHttpClientTransport::from_uri(format!("{}/mcp", server.url));
        let client = ().serve(transport).await.expect("connects to the peer");
        Self { server, client }
    }

    /// Our `McpPayer` pays `joke`: its receipt names a mined transaction,
    /// and the recipient holds the price.
    async fn pay_joke<P: PaymentProvider>(
        &self,
        provider: &P,
        anvil: &Anvil,
        recipient: Address,
    ) -> PaidResult {
        let paid = McpPayer::new(provider, REALM)
            .call_tool(self.client.peer(), CallToolRequestParams::new("joke"))
            .await
            .unwrap_or_else(|e| panic!("{e}: {}", self.server.stderr()));
        let receipt = paid
            .receipt
            .as_ref()
            .expect("a receipt naming the challenge paid");
        assert_eq!(receipt.method, "tempo");
        let mined: serde_json::Value = anvil
            .rpc("eth_getTransactionReceipt", json!([receipt.reference]))
            .await;
        assert_eq!(mined["status"], "0x1");
        assert_eq!(anvil.balance(PATH_USD, recipient).await, U256::from(PRICE));
        paid
    }

    /// A credential presented twice: the first answer is served, the
    /// second is returned.
    async fn replay<P: PaymentProvider>(
        &self,
        provider: &P,
    ) -> Result<CallToolResult, ServiceError> {
        let client = &self.client;
        let error = mcp_error(
            client
                .call_tool(tool_call("joke", json!({}), None))
                .await
                .unwrap_err(),
        );
        let raw = challenges(&error)[0].clone();
        let credential = provider.pay(&parsed(&raw)).await.unwrap();
        let json = credential_to_json(&raw, &credential.payload, credential.source.as_deref());
        client
            .call_tool(tool_call("joke", json!({}), Some(json.clone())))
            .await
            .unwrap_or_else(|e| panic!("{e}: {}", self.server.stderr()));
        client
            .call_tool(tool_call("joke", json!({}), Some(json)))
            .await
    }
}

fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/peers")
        .join(name)
}

#[tokio::test]
async fn mcp_peer_our_client_pays_mppx_mcp_server() {
    let anvil = tokio::task::spawn_blocking(Anvil::start).await.unwrap();
    let recipient = PrivateKeySigner::random().address();
    let mut command = Command::new(node());
    command.arg(script("mppx_mcp_server.mjs"));
    let peer = PeerMcp::start(command, &anvil, recipient, "mppx's MCP server").await;
    let provider = TempoProvider::new(anvil.funded_payer(1_000_000).await, &anvil.url).unwrap();
    peer.pay_joke(&provider, &anvil, recipient).await;

    // The MCP SDK's server passes `-32042` through as an error (the code
    // it shares with URL elicitation) but turns `-32043` into an `isError`
    // tool result with the error's text: the known issue of the TypeScript
    // SDK. Either form must refuse.
    match peer.replay(&provider).await {
        Err(error) => assert_eq!(mcp_error(error).code.0, -32043),
        Ok(result) => {
            assert_eq!(result.is_error, Some(true));
            assert!(
                format!("{:?}", result.content).contains("-32043"),
                "{result:?}"
            );
            assert!(result.meta.is_none(), "no receipt");
        }
    }
    assert_eq!(
        anvil.balance(PATH_USD, recipient).await,
        U256::from(2 * PRICE)
    );
}

#[tokio::test]
async fn mcp_peer_our_client_pays_pympp_mcp_server() {
    let anvil = tokio::task::spawn_blocking(Anvil::start).await.unwrap();
    let recipient = PrivateKeySigner::random().address();
    let mut command = Command::new(pympp_python("pympp's MCP server"));
    command
        .arg(script("pympp_mcp_server.py"))
        .env("PYTHONUNBUFFERED", "1");
    let peer = PeerMcp::start(command, &anvil, recipient, "pympp's MCP server").await;
    let provider = TempoProvider::new(anvil.funded_payer(1_000_000).await, &anvil.url).unwrap();
    let paid = peer.pay_joke(&provider, &anvil, recipient).await;
    assert_eq!(
        serde_json::to_value(&paid.result.content).unwrap()[0]["text"],
        "a paid joke"
    );

    // pympp answers a spent credential with the JSON-RPC error `-32043`
    // (its `PaymentVerificationError`): `httpStatus` 403, the reason in
    // `failure`, and no fresh challenge (a terminal refusal).
    let error = mcp_error(peer.replay(&provider).await.unwrap_err());
    assert_eq!(error.code.0, -32043, "{error:?}");
    let data = error.data.as_ref().expect("the refusal's data");
    assert_eq!(data["httpStatus"], 403, "{error:?}");
    assert!(
        data["failure"]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("already used")),
        "{error:?}"
    );
    assert_eq!(
        anvil.balance(PATH_USD, recipient).await,
        U256::from(2 * PRICE)
    );
}
