//! The pympp peer process, and the comparison of its answers with ours.

#[allow(clippy::wildcard_imports)]
use super::*;
use crate::pympp_venv::{PYMPP_HINT, pympp_python};

/// The seed of the case generator; change it to explore other cases.
pub(crate) const SEED: u64 = 0x4d50_505f_6469_6666;
/// Generated cases per kind of value.
pub(crate) const CASES: usize = 300;

// ---------------------------------------------------------------------------
// The two implementations
// ---------------------------------------------------------------------------

/// Our answer to one harness operation.
pub(crate) fn ours(op: &str, input: &Value) -> Value {
    abi::handle(&json!({"schema": 1, "op": op, "input": input}))
}

/// The pympp peer process.
pub(crate) struct Peer {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl Peer {
    pub(crate) fn spawn() -> Self {
        let python = pympp_python("the pympp differential test");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/pympp_peer.py");
        let mut child = Command::new(&python)
            .arg(&script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start the pympp peer ({} {}): {e}; {PYMPP_HINT}",
                    python.display(),
                    script.display()
                )
            });
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
        let mut peer = Self {
            child,
            stdin,
            stdout,
        };
        // A venv without pympp makes the peer die on `import mpp`.
        let hello = peer.call("base64url.encode", &json!({"text": "ok"}));
        assert_eq!(
            hello,
            json!({"ok": true, "value": {"text": "b2s"}}),
            "the pympp peer does not answer as expected; {PYMPP_HINT}"
        );
        peer
    }

    /// pympp's answer to one harness operation.
    pub(crate) fn call(&mut self, op: &str, input: &Value) -> Value {
        let line = json!({"op": op, "input": input}).to_string();
        let stdin = self.stdin.as_mut().expect("the peer's stdin is open");
        writeln!(stdin, "{line}")
            .and_then(|()| stdin.flush())
            .unwrap_or_else(|e| panic!("cannot write to the pympp peer: {e}; {PYMPP_HINT}"));
        let mut answer = String::new();
        let read = self
            .stdout
            .read_line(&mut answer)
            .unwrap_or_else(|e| panic!("cannot read from the pympp peer: {e}"));
        assert!(
            read > 0,
            "the pympp peer exited (its stderr is above) while answering {line}; {PYMPP_HINT}"
        );
        serde_json::from_str(&answer)
            .unwrap_or_else(|e| panic!("the pympp peer wrote invalid JSON ({e}): {answer}"))
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        // Closing stdin ends the peer's read loop.
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------
// Comparison and reporting
// ---------------------------------------------------------------------------

/// Runs the checks, tallies the cases per operation and keeps the first
/// mismatch.
pub(crate) struct Differ {
    pub(crate) peer: Peer,
    pub(crate) cases: BTreeMap<&'static str, usize>,
    pub(crate) mismatches: usize,
    pub(crate) first_mismatch: Option<String>,
}

/// One side of a comparison: a label and a full ABI response.
pub(crate) type Side<'a> = (&'a str, &'a Value);

impl Differ {
    /// Counts one case of `check`.
    pub(crate) fn tally(&mut self, check: &'static str) {
        *self.cases.entry(check).or_default() += 1;
    }

    /// Records a mismatch unless both sides hold the same response.
    pub(crate) fn same(
        &mut self,
        check: &str,
        what: &str,
        case: &Value,
        left: Side<'_>,
        right: Side<'_>,
    ) {
        if left.1 == right.1 {
            return;
        }
        self.mismatches += 1;
        if self.first_mismatch.is_some() {
            return;
        }
        let mut report = String::new();
        let _ = writeln!(report, "first mismatch: {check}: {what}");
        let _ = writeln!(report, "case: {}", pretty(case));
        let _ = writeln!(report, "differences ({} vs {}):", left.0, right.0);
        let mut lines = Vec::new();
        diff("$", left.1, right.1, &mut lines);
        for line in lines.iter().take(20) {
            let _ = writeln!(report, "  {line}");
        }
        if lines.len() > 20 {
            let _ = writeln!(report, "  ... and {} more", lines.len() - 20);
        }
        let _ = writeln!(report, "{}: {}", left.0, pretty(left.1));
        let _ = writeln!(report, "{}: {}", right.0, pretty(right.1));
        self.first_mismatch = Some(report);
    }

    /// The value of a response that must succeed; a mismatch otherwise.
    pub(crate) fn ok(
        &mut self,
        check: &str,
        what: &str,
        case: &Value,
        side: Side<'_>,
    ) -> Option<Value> {
        if side.1["ok"] == true {
            return Some(side.1["value"].clone());
        }
        let success = json!({"ok": true, "value": "..."});
        self.same(check, what, case, side, ("expected", &success));
        None
    }
}

pub(crate) fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

/// Lists where two JSON values differ, one line per differing path.
pub(crate) fn diff(path: &str, left: &Value, right: &Value, out: &mut Vec<String>) {
    match (left, right) {
        (Value::Object(lefts), Value::Object(rights)) => {
            let keys: BTreeSet<&String> = lefts.keys().chain(rights.keys()).collect();
            for key in keys {
                let here = format!("{path}.{key}");
                match (lefts.get(key), rights.get(key)) {
                    (Some(l), Some(r)) => diff(&here, l, r, out),
                    (Some(l), None) => out.push(format!("{here}: only on the left: {l}")),
                    (None, Some(r)) => out.push(format!("{here}: only on the right: {r}")),
                    (None, None) => unreachable!("the key comes from one of the maps"),
                }
            }
        }
        (Value::Array(lefts), Value::Array(rights)) => {
            for (index, (l, r)) in lefts.iter().zip(rights).enumerate() {
                diff(&format!("{path}[{index}]"), l, r, out);
            }
            if lefts.len() != rights.len() {
                out.push(format!("{path}: {} items vs {}", lefts.len(), rights.len()));
            }
        }
        _ if left != right => out.push(format!("{path}: {left} vs {right}")),
        _ => {}
    }
}

// ---------------------------------------------------------------------------
