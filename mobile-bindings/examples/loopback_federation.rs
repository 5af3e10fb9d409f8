//! The loopback federation of `tests/support/federation.rs` (trust anchor, test OpenID
//! Provider, wallet provider, the PID provider, the Motorizzazione, an issuer outside the
//! federation) as a process, for the foreign test suites: prints one JSON line (entity ids,
//! the issuers' admin token, the registry path, the issuance `redirect_uri`, the citizen the
//! PID provider knows: see `federation::start`) and serves until its stdin closes. The
//! suites create offers with `POST {issuer}/admin/offers` and may mark a record ready in the
//! registry.
#![allow(clippy::unwrap_used, missing_docs)]

use std::io::Read as _;

#[path = "../tests/support/federation.rs"]
mod federation;

#[tokio::main]
async fn main() {
    let fed = federation::start().await;
    println!("{}", fed.info);
    // Serve until the test closes our stdin.
    tokio::task::spawn_blocking(|| {
        let mut sink = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut sink);
    })
    .await
    .unwrap();
    drop(fed);
}
