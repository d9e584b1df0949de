//! The target of `load.sh`.
//!
//! ```text
//! load_server serve ADDR                # every route of lib.rs on ADDR
//! load_server credentials PATH COUNT    # COUNT fresh proof credentials for PATH
//! ```
//!
//! `credentials` writes one `Authorization` value a line, each answering
//! its own challenge (both sides claim a challenge once), signed on every
//! core. The server accepts them because challenges are stateless: they
//! are bound with the HMAC secret both processes share (lib.rs).

use std::collections::HashSet;
use std::io::Write as _;
use std::process::ExitCode;

use tower_mpp_compare::{Ours, Payer, ROUTES, Theirs, app, proof_credential, spawn_rpc_stub};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        ["serve", addr] => serve(addr),
        ["credentials", path, count] => match count.parse() {
            Ok(count) => credentials(path, count),
            Err(_) => Err(format!("not a count: {count}")),
        },
        _ => Err("usage: load_server serve ADDR | load_server credentials PATH COUNT".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn serve(addr: &str) -> Result<(), String> {
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let theirs = Theirs::new(&spawn_rpc_stub());
        let app = app(&Ours::default(), &theirs);
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        println!("listening on http://{addr}, routes: {}", ROUTES.join(" "));
        std::io::stdout().flush().map_err(|e| e.to_string())?;
        axum::serve(listener, app).await.map_err(|e| e.to_string())
    })
}

fn credentials(path: &str, count: usize) -> Result<(), String> {
    // No verification happens here, so the node is never asked.
    let (ours, theirs, payer) = (
        Ours::default(),
        Theirs::new("http://127.0.0.1:9"),
        Payer::default(),
    );
    if proof_credential(&ours, &theirs, &payer, path).is_none() {
        return Err(format!("{path} is not a proof route"));
    }
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let batches: Vec<Vec<String>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|i| {
                let share = count / threads + usize::from(i < count % threads);
                let (ours, theirs, payer) = (&ours, &theirs, &payer);
                scope.spawn(move || {
                    (0..share)
                        .filter_map(|_| proof_credential(ours, theirs, payer, path))
                        .collect()
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("a worker"))
            .collect()
    });
    // Two `mpp` challenges issued in the same nanosecond are the same
    // challenge (its id binds no nonce); a repeat would be refused as a
    // replay, so it is left out.
    let mut seen = HashSet::with_capacity(count);
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for line in batches.into_iter().flatten() {
        if seen.insert(line.clone()) {
            writeln!(out, "{line}").map_err(|e| e.to_string())?;
        }
    }
    out.flush().map_err(|e| e.to_string())
}
