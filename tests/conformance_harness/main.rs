//! The public MPP harness's own vector files (tests/fixtures/conformance),
//! run through the conformance adapter's ABI exactly as the harness's runner
//! compares them: every scenario of every file, each one named on failure.

mod codec;
#[cfg(all(feature = "client", feature = "axum"))]
mod flow;
mod server;
#[cfg(feature = "tempo")]
mod tempo;

#[path = "../../examples/conformance_adapter/abi.rs"]
mod abi;

use std::path::PathBuf;

use serde_json::{Value, json};

pub(crate) fn fixture(name: &str) -> Value {
    let path: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "tests/fixtures/conformance",
        name,
    ]
    .iter()
    .collect();
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read the vector file {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

pub(crate) fn call(op: &str, input: &Value, case: &str) -> Value {
    abi::handle(&json!({"schema": 1, "op": op, "input": input, "context": {"caseName": case}}))
}

/// Runs `check` on every case and fails once, naming each failed case.
pub(crate) fn run_all(cases: &[Value], check: impl Fn(&Value) -> Result<(), String>) -> usize {
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|case| {
            check(case)
                .err()
                .map(|why| format!("{}: {why}", case["name"]))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    cases.len()
}
