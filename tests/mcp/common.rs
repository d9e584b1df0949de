//! A test MCP server (tools, a resource, a prompt) priced by `PaidServer`
//! over the test `Invoice` method, and rmcp clients connected to it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ErrorData,
    GetPromptRequestParams, GetPromptResponse, GetPromptResult, PromptMessage,
    ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult, ResourceContents, Role,
    ServerCapabilities, ServerConfig,
};
use rmcp::service::{RequestContext, RoleClient, RoleServer, RunningService};
use rmcp::{ServerHandler, ServiceExt as _};
use serde_json::{Map, Value, json};
use tower_mpp::mcp::PaidServer;
use tower_mpp::method::{Payments, Price};
use tower_mpp::protocol::{Challenge, Credential};
use tower_mpp::store::MemoryStore;

use crate::server_common::{Recorder, payments};

/// Counts what it serves: `joke`, `free`, `words` and `fails` (an
/// `isError` result), `data://premium` and the prompt `advice`.
#[derive(Clone, Default)]
pub(crate) struct Tools {
    pub(crate) served: Arc<AtomicUsize>,
}

impl ServerHandler for Tools {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .enable_prompts()
                .build(),
        )
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        self.served.fetch_add(1, Ordering::SeqCst);
        let text = |t: &str| vec![ContentBlock::text(t.to_owned())];
        Ok(match &*request.name {
            "fails" => CallToolResult::error(text("the tool broke")),
            "joke" => CallToolResult::success(text("Why did the agent pay? No account.")),
            name => CallToolResult::success(text(name)),
        }
        .into())
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        self.served.fetch_add(1, Ordering::SeqCst);
        let contents = ResourceContents::text("market data", request.uri);
        Ok(ReadResourceResult::new(vec![contents]).into())
    }

    async fn get_prompt(
        &self,
        _: GetPromptRequestParams,
        _: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        self.served.fetch_add(1, Ordering::SeqCst);
        let message = PromptMessage::new_text(Role::User, "be brief");
        Ok(GetPromptResult::new(vec![message]).into())
    }
}

/// The test server and what it counts.
pub(crate) struct Env {
    pub(crate) payments: Payments,
    pub(crate) tools: Tools,
    pub(crate) verified: Arc<AtomicUsize>,
    pub(crate) recorder: Arc<Recorder>,
}

impl Env {
    pub(crate) fn new() -> Self {
        let verified = Arc::new(AtomicUsize::new(0));
        let recorder = Arc::new(Recorder::default());
        Self {
            payments: payments(&verified, &recorder, MemoryStore::default()),
            tools: Tools::default(),
            verified,
            recorder,
        }
    }

    /// `joke` at 0.01, `words` at 0.01 a word, `fails` at 0.01, the
    /// resource at 0.05 and the prompt at 0.02; `free` is free.
    pub(crate) fn server(&self) -> PaidServer<Tools> {
        PaidServer::new(self.tools.clone(), self.payments.clone())
            .tool("joke", Price::new("0.01").unwrap().description("A joke"))
            .tool_priced_by("words", |call| {
                let text = call.arguments.get("text").and_then(Value::as_str);
                let words = text.unwrap_or_default().split_whitespace().count();
                Price::base_units(words as u128)
            })
            .tool("fails", Price::new("0.01").unwrap())
            .resource("data://premium", Price::new("0.05").unwrap())
            .prompt("advice", Price::new("0.02").unwrap())
    }

    pub(crate) fn served(&self) -> usize {
        self.tools.served.load(Ordering::SeqCst)
    }

    pub(crate) fn events(&self) -> Vec<String> {
        self.recorder.events.lock().unwrap().clone()
    }
}

/// An rmcp client connected to `server` over an in-process pipe.
pub(crate) async fn connect<H: ServerHandler>(
    server: PaidServer<H>,
) -> RunningService<RoleClient, ()> {
    let (server_io, client_io) = tokio::io::duplex(1 << 16);
    tokio::spawn(async move {
        if let Ok(running) = server.serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    ().serve(client_io).await.expect("the client initializes")
}

/// A tool call, with a credential in `params._meta` when given.
pub(crate) fn tool_call(
    name: &str,
    arguments: Value,
    credential: Option<Value>,
) -> CallToolRequestParams {
    let mut params = CallToolRequestParams::new(name.to_owned());
    if let Value::Object(arguments) = arguments {
        params.arguments = Some(arguments);
    }
    if let Some(credential) = credential {
        let mut meta = rmcp::model::RequestMetaObject::new();
        meta.insert("org.paymentauth/credential".into(), credential);
        params.meta = Some(meta);
    }
    params
}

/// The JSON credential paying `challenge` (its JSON form) with the test
/// method's `proof`.
pub(crate) fn pay(challenge: &Value, proof: &str) -> Value {
    let mut payload = Map::new();
    payload.insert("proof".into(), proof.into());
    tower_mpp::mcp::wire::credential_to_json(challenge, &payload, Some("did:test:payer"))
}

/// The challenges of an error's data.
pub(crate) fn challenges(error: &ErrorData) -> Vec<Value> {
    error.data.as_ref().unwrap()["challenges"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The first challenge of an unpaid call of tool `name` (a `-32042`).
pub(crate) async fn first_challenge(
    client: &rmcp::Peer<RoleClient>,
    name: &str,
    arguments: Value,
) -> Value {
    let error = client
        .call_tool(tool_call(name, arguments, None))
        .await
        .unwrap_err();
    challenges(&mcp_error(error))[0].clone()
}

/// A challenge's JSON form read back.
pub(crate) fn parsed(challenge: &Value) -> Challenge {
    tower_mpp::mcp::wire::challenge_from_json(challenge).unwrap()
}

/// A credential's JSON form read back.
#[allow(dead_code)]
pub(crate) fn credential(value: &Value) -> Credential {
    tower_mpp::mcp::wire::credential_from_json(value).unwrap()
}

/// The MCP error of a call that failed with one.
pub(crate) fn mcp_error(error: rmcp::ServiceError) -> ErrorData {
    match error {
        rmcp::ServiceError::McpError(error) => error,
        other => panic!("not an MCP error: {other}"),
    }
}

/// `json!` shorthand for the test's arguments.
pub(crate) fn words(text: &str) -> Value {
    json!({ "text": text })
}
