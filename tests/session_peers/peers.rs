//! The two peer session clients against our app on one chain.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use alloy::primitives::{B256, hex};
use serde_json::Value;
use tokio::process::Command;
use tower_mpp::protocol::Receipt;
use tower_mpp::store::MemoryChannelStore;

use crate::common::{App, Chain, PRICE};
use crate::rpc_proxy::RpcProxy;

const MPP_CLIENT_HINT: &str = "build tests/peers/mpp-client (scripts/test does) or set \
                               TOWER_MPP_MPP_CLIENT to its binary";
const MPPX_HINT: &str = "run scripts/test once (it installs mppx 0.11 and viem into \
                         .tools/node_modules with npm) or set TOWER_MPP_NODE_MODULES";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

pub(crate) fn mpp_client() -> PathBuf {
    let path = std::env::var_os("TOWER_MPP_MPP_CLIENT").map_or_else(
        || root().join("tests/peers/mpp-client/target/debug/mpp-client"),
        PathBuf::from,
    );
    assert!(
        path.is_file(),
        "the mpp crate's session client is missing at {}: {MPP_CLIENT_HINT}",
        path.display()
    );
    path
}

fn node_modules() -> PathBuf {
    let dir = std::env::var_os("TOWER_MPP_NODE_MODULES")
        .filter(|v| !v.is_empty())
        .map_or_else(|| root().join(".tools/node_modules"), PathBuf::from);
    for package in ["mppx", "viem"] {
        let manifest = dir.join(package).join("package.json");
        assert!(
            manifest.is_file(),
            "mppx's session client needs {package}, missing at {}: {MPPX_HINT}",
            manifest.display()
        );
    }
    dir
}

fn node() -> PathBuf {
    std::env::var_os("TOWER_MPP_NODE")
        .filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from("node"), PathBuf::from)
}

/// Runs `command` (at most 120 s); its stdout lines as JSON.
async fn run(mut command: Command, what: &str) -> Vec<Value> {
    command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = command
        .spawn()
        .unwrap_or_else(|e| panic!("{what} does not start: {e}"));
    let output = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{what} ran for more than 120 s"))
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("{what} printed {line}")))
        .collect()
}

/// The receipts of the paid requests and of the close, checked: each
/// request 200 with a session receipt of the channel, `spent` rising by
/// one price; the close's receipt carries the close transaction. The
/// channel id.
fn check_receipts(lines: &[Value], requests: usize) -> (B256, Receipt) {
    assert_eq!(lines.len(), requests + 1, "{lines:?}");
    let mut channel = None;
    for (i, line) in lines[..requests].iter().enumerate() {
        assert_eq!(line["status"], 200, "{line}");
        assert_eq!(line["body"], "served");
        let receipt = Receipt::parse(line["receipt"].as_str().expect("a receipt header")).unwrap();
        assert_eq!(receipt.extra["intent"], "session");
        let id: B256 = receipt.extra["channelId"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(*channel.get_or_insert(id), id, "one channel");
        let spent: u128 = receipt.extra["spent"].as_str().unwrap().parse().unwrap();
        assert_eq!(spent, (i as u128 + 1) * PRICE, "request {i}");
    }
    let close = &lines[requests]["close"];
    let close = match close {
        Value::String(header) => Receipt::parse(header).unwrap(),
        Value::Object(object) => {
            let header =
                tower_mpp::protocol::base64url::encode(serde_json::to_vec(object).unwrap());
            Receipt::parse(&header).unwrap()
        }
        other => panic!("the close gave no receipt: {other}"),
    };
    (channel.expect("a paid request"), close)
}

/// The chain and the store after the close: the channel is closed, and
/// the close transaction paid the payee exactly what was spent and gave the
/// payer back the rest of `deposit`.
async fn check_settled(
    chain: &Chain,
    app: &App,
    id: B256,
    close: &Receipt,
    requests: usize,
    deposit: u128,
) {
    let spent = requests as u128 * PRICE;
    let on = chain.read(id).await;
    assert!(
        on.finalized || on.payer.is_zero(),
        "the channel is closed: {on:?}"
    );
    let stored = app
        .session
        .channel_store()
        .get(id)
        .await
        .unwrap()
        .expect("stored");
    assert!(stored.state.finalized);
    assert_eq!(
        stored.state.settled, spent,
        "the close captured what was spent"
    );
    let hash = close.extra["txHash"]
        .as_str()
        .expect("the close names its transaction");
    let receipt: Value = chain
        .anvil
        .rpc("eth_getTransactionReceipt", serde_json::json!([hash]))
        .await;
    assert_eq!(receipt["status"], "0x1");
    let transfer_topic = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef";
    let escrow_topic = format!("0x{:0>64}", hex::encode(chain.escrow));
    let mut from_escrow: Vec<u128> = receipt["logs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|log| log["topics"][0] == transfer_topic && log["topics"][1] == escrow_topic)
        .map(|log| {
            u128::from_str_radix(log["data"].as_str().unwrap().trim_start_matches("0x"), 16)
                .unwrap()
        })
        .collect();
    from_escrow.sort_unstable();
    let mut expected = vec![spent, deposit - spent];
    expected.sort_unstable();
    assert_eq!(
        from_escrow, expected,
        "the escrow paid the payee what was spent, the payer the rest"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_mpp_crates_session_client_opens_pays_and_closes() {
    let client = mpp_client();
    let chain = Chain::start().await;
    let proxy = RpcProxy::start(&chain.anvil.url).await;
    let app = App::new(&chain, chain.session(&proxy.url, MemoryChannelStore::new()));
    let base = app.serve().await;
    let payer = chain.anvil.funded_payer(100_000_000).await;
    let requests = 4;
    let mut command = Command::new(client);
    command.args([
        "session",
        "--url",
        &format!("{base}/paid"),
        "--key",
        &hex::encode_prefixed(payer.to_bytes()),
        "--rpc",
        &chain.anvil.url,
        "--escrow",
        &chain.escrow.to_string(),
        "--deposit",
        "1000000",
        "--requests",
        &requests.to_string(),
    ]);
    let lines = run(command, "mpp-client session").await;
    let (id, close) = check_receipts(&lines, requests);
    check_settled(&chain, &app, id, &close, requests, 1_000_000).await;
    // The open's check that the escrow does not have the channel yet, its
    // broadcast and read-back, then the close: the three vouchers between
    // them made no call.
    assert_eq!(
        proxy.take_calls(),
        [
            "eth_call",
            "eth_sendRawTransactionSync",
            "eth_call",
            "eth_sendRawTransactionSync"
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn mppx_v1_session_client_opens_pays_and_closes() {
    let modules = node_modules();
    let chain = Chain::start().await;
    let app = chain.app();
    let base = app.serve().await;
    let payer = chain.anvil.funded_payer(100_000_000).await;
    let requests = 4;
    let mut command = Command::new(node());
    command
        .arg(root().join("tests/peers/mppx_session_client.mjs"))
        .env("SESSION_URL", format!("{base}/paid"))
        .env("TEMPO_RPC_URL", &chain.anvil.url)
        .env("TEMPO_CHAIN_ID", crate::anvil::CHAIN_ID.to_string())
        .env("PAYER_KEY", hex::encode_prefixed(payer.to_bytes()))
        .env("ESCROW_CONTRACT", chain.escrow.to_string())
        .env("MAX_DEPOSIT", "1")
        .env("REQUESTS", requests.to_string())
        .env("MPPX_NODE_MODULES", modules);
    let lines = run(command, "mppx_session_client.mjs").await;
    let (id, close) = check_receipts(&lines, requests);
    check_settled(&chain, &app, id, &close, requests, 1_000_000).await;
}

/// A stream line's messages are the 12 words in order and its receipt
/// says 12 were spent; the close line follows.
fn check_stream(lines: &[Value]) {
    assert_eq!(lines.len(), 2, "{lines:?}");
    let words: Vec<String> = (0..12).map(|i| format!("word-{i}")).collect();
    assert_eq!(
        lines[0]["messages"],
        serde_json::json!(words),
        "{}",
        lines[0]
    );
    assert_eq!(
        lines[0]["receipt"]["spent"],
        (12 * PRICE).to_string(),
        "{}",
        lines[0]
    );
    assert!(!lines[1]["close"].is_null(), "{}", lines[1]);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_mpp_crates_session_client_pays_a_metered_stream() {
    let client = mpp_client();
    let chain = Chain::start().await;
    let app = chain.app();
    let base = app.serve().await;
    let payer = chain.anvil.funded_payer(100_000_000).await;
    let mut command = Command::new(client);
    command.args([
        "session",
        "--url",
        &format!("{base}/stream?n=12&wait=30"),
        "--key",
        &hex::encode_prefixed(payer.to_bytes()),
        "--rpc",
        &chain.anvil.url,
        "--escrow",
        &chain.escrow.to_string(),
        "--deposit",
        "1000000",
        "--requests",
        "1",
        "--stream",
        "yes",
    ]);
    check_stream(&run(command, "mpp-client session --stream").await);
}

#[tokio::test(flavor = "multi_thread")]
async fn mppx_v1_session_client_pays_a_metered_stream() {
    let modules = node_modules();
    let chain = Chain::start().await;
    let app = chain.app();
    let base = app.serve().await;
    let payer = chain.anvil.funded_payer(100_000_000).await;
    let mut command = Command::new(node());
    command
        .arg(root().join("tests/peers/mppx_session_client.mjs"))
        .env("SESSION_URL", format!("{base}/stream?n=12&wait=30"))
        .env("TEMPO_RPC_URL", &chain.anvil.url)
        .env("TEMPO_CHAIN_ID", crate::anvil::CHAIN_ID.to_string())
        .env("PAYER_KEY", hex::encode_prefixed(payer.to_bytes()))
        .env("ESCROW_CONTRACT", chain.escrow.to_string())
        .env("MAX_DEPOSIT", "1")
        .env("REQUESTS", "1")
        .env("STREAM", "yes")
        .env("MPPX_NODE_MODULES", modules);
    check_stream(&run(command, "mppx_session_client.mjs (stream)").await);
}
