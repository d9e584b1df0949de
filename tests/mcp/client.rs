//! `McpPayer` paying `PaidServer`: the receipt, the realm check, the
//! spending policy, a refused credential, and the tool-result form.

use serde_json::{Map, json};
use tower_mpp::client::mcp::McpPayer;
use tower_mpp::client::{ClientError, PayError, PaymentProvider, SpendingPolicy, WithPolicy};
use tower_mpp::protocol::{Challenge, Credential};

use crate::common::{Env, connect, tool_call};
use crate::server_common::REALM;

/// Pays the test `invoice` method with a fixed proof.
struct InvoicePayer(&'static str);

impl PaymentProvider for InvoicePayer {
    fn supports(&self, method: &str, intent: &str) -> bool {
        method == "invoice" && intent == "charge"
    }

    async fn pay(&self, challenge: &Challenge) -> Result<Credential, PayError> {
        let mut payload = Map::new();
        payload.insert("proof".into(), self.0.into());
        Ok(Credential::new(challenge.clone(), payload))
    }
}

#[tokio::test]
async fn mcp_payer_pays_a_tool_and_returns_its_receipt() {
    let env = Env::new();
    let client = connect(env.server()).await;
    let payer = McpPayer::new(InvoicePayer("paid"), REALM);
    let paid = payer
        .call_tool(client.peer(), tool_call("joke", json!({}), None))
        .await
        .unwrap();
    let receipt = paid.receipt.expect("a receipt");
    assert_eq!(receipt.method, "invoice");
    assert!(receipt.reference.starts_with("inv_"));
    assert_eq!(env.served(), 1);
    // A free tool is called once, unpaid.
    let free = payer
        .call_tool(client.peer(), tool_call("free", json!({}), None))
        .await
        .unwrap();
    assert!(free.receipt.is_none());
    assert_eq!(env.served(), 2);
}

#[tokio::test]
async fn mcp_payer_refuses_a_realm_that_does_not_name_the_server() {
    let env = Env::new();
    let client = connect(env.server()).await;
    let payer = McpPayer::new(InvoicePayer("paid"), "other.example.com");
    let error = payer
        .call_tool(client.peer(), tool_call("joke", json!({}), None))
        .await
        .unwrap_err();
    assert!(
        matches!(error, ClientError::NoPayableChallenge { .. }),
        "{error}"
    );
    assert_eq!(env.verified.load(std::sync::atomic::Ordering::SeqCst), 0);
    assert_eq!(env.served(), 0);
}

#[tokio::test]
async fn mcp_payer_keeps_to_the_spending_policy() {
    let env = Env::new();
    let client = connect(env.server()).await;
    // The tool costs 1 (usd cents); at most 0 may be spent.
    let policy = SpendingPolicy::new().max_per_request("usd", 0);
    let payer = McpPayer::new(InvoicePayer("paid").with_policy(policy), REALM);
    let error = payer
        .call_tool(client.peer(), tool_call("joke", json!({}), None))
        .await
        .unwrap_err();
    assert!(matches!(error, ClientError::PolicyRefused(_)), "{error}");
    assert_eq!(env.served(), 0);
}

#[tokio::test]
async fn mcp_payer_reports_a_refused_credential_in_both_forms() {
    let env = Env::new();
    for server in [env.server(), env.server().tool_result_challenges(true)] {
        let client = connect(server).await;
        let payer = McpPayer::new(InvoicePayer("forged"), REALM);
        let error = payer
            .call_tool(client.peer(), tool_call("joke", json!({}), None))
            .await
            .unwrap_err();
        let ClientError::Rejected { status, problem } = error else {
            panic!("{error}");
        };
        assert_eq!(status, 402);
        assert_eq!(
            problem.unwrap().problem_type,
            "https://paymentauth.org/problems/verification-failed"
        );
    }
    // The tool-result form is paid too.
    let client = connect(env.server().tool_result_challenges(true)).await;
    let paid = McpPayer::new(InvoicePayer("paid"), REALM)
        .call_tool(client.peer(), tool_call("joke", json!({}), None))
        .await
        .unwrap();
    assert!(paid.receipt.is_some());
    assert_eq!(env.served(), 1);
}

/// Counts what the server is said to have accepted.
#[derive(Default)]
struct Counting {
    accepted: std::sync::atomic::AtomicUsize,
}

impl PaymentProvider for &Counting {
    fn supports(&self, method: &str, intent: &str) -> bool {
        InvoicePayer("").supports(method, intent)
    }

    async fn pay(&self, challenge: &Challenge) -> Result<Credential, PayError> {
        InvoicePayer("forged").pay(challenge).await
    }

    fn accepted(&self, _: &Credential, _: Option<&tower_mpp::protocol::Receipt>) {
        self.accepted
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// A server whose SDK turns a refusal of the paid retry (`-32043`) into
/// an error result with no `_meta`, as the TypeScript MCP SDK does.
#[derive(Clone)]
struct Swallowing(tower_mpp::mcp::PaidServer<crate::common::Tools>);

impl rmcp::ServerHandler for Swallowing {
    async fn call_tool(
        &self,
        request: rmcp::model::CallToolRequestParams,
        context: rmcp::service::RequestContext<rmcp::RoleServer>,
    ) -> Result<rmcp::model::CallToolResponse, rmcp::ErrorData> {
        match self.0.call_tool(request, context).await {
            Err(error) if error.code.0 == -32043 => Ok(rmcp::model::CallToolResponse::Complete(
                rmcp::model::CallToolResult::error(vec![rmcp::model::ContentBlock::text(
                    error.message.to_string(),
                )]),
            )),
            other => other,
        }
    }

    fn get_info(&self) -> rmcp::model::ServerConfig {
        self.0.get_info()
    }
}

/// An error result without a receipt after the paid retry says nothing
/// of the payment: the provider is not told it was accepted (a session
/// provider would count a refused voucher as the server's).
#[tokio::test]
async fn mcp_payer_does_not_take_an_error_result_for_an_acceptance() {
    use rmcp::ServiceExt as _;
    let env = Env::new();
    let (server_io, client_io) = tokio::io::duplex(1 << 16);
    let server = Swallowing(env.server());
    tokio::spawn(async move {
        if let Ok(running) = server.serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    let client = ().serve(client_io).await.expect("the client initializes");
    let counting = Counting::default();
    let paid = McpPayer::new(&counting, REALM)
        .call_tool(client.peer(), tool_call("joke", json!({}), None))
        .await
        .unwrap();
    assert_eq!(paid.result.is_error, Some(true));
    assert!(paid.receipt.is_none());
    assert_eq!(
        counting.accepted.load(std::sync::atomic::Ordering::SeqCst),
        0
    );
    assert_eq!(env.served(), 0);
}
