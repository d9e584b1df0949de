//! An adapter for the MPP conformance harness.
//!
//! Reads one JSON request `{"schema":1,"op":OP,"input":...}` from stdin and
//! writes one JSON response to stdout: `{"ok":true,"value":...}` or
//! `{"ok":false,"error":{"type":T,"message":M}}`. It exits 0 whenever it
//! wrote a response.
//!
//! ```text
//! echo '{"schema":1,"op":"base64url.encode","input":{"text":"a"}}' \
//!   | cargo run --quiet --example conformance_adapter
//! {"ok":true,"value":{"text":"YQ"}}
//! ```

use std::io::{Read as _, Write as _};
use std::process::ExitCode;

mod abi;

fn main() -> ExitCode {
    let mut input = String::new();
    let response = match std::io::stdin().read_to_string(&mut input) {
        Ok(_) => match serde_json::from_str(&input) {
            Ok(request) => abi::handle(&request),
            Err(e) => abi::error(
                "unsupported_operation",
                &format!("request is not JSON: {e}"),
            ),
        },
        Err(e) => abi::error("unsupported_operation", &format!("cannot read stdin: {e}")),
    };
    let mut stdout = std::io::stdout().lock();
    match writeln!(stdout, "{response}").and_then(|()| stdout.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::FAILURE,
    }
}
