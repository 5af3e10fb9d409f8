//! The optional webhook on completion (`webhook_url`, `webhook_secret`): when a session of
//! the integrator API gets its verdict (`verified`, `refused`, `declined`), the replica that
//! recorded it POSTs `{"session_id", "status"}` to the integrator, never the claims (the
//! integrator fetches the result once, with its token).
//!
//! * The body is signed: `X-Tessera-Signature: sha256=<hex HMAC-SHA256(webhook_secret, body)>`
//!   (RFC 2104); the receiver computes it over the raw body and compares in constant time.
//! * Sent from a task of its own: the wallet's answer never waits for it.
//! * Bounded: at most [`ATTEMPTS`] tries, [`BACKOFF`] doubling between them, each under the
//!   outbound fetch timeout; retried after a network error, a timeout, a 408, a 429 or a
//!   5xx; given up on another 4xx. Delivered and failed notices are counted (`/metrics`).
//! * Sessions of the in-person page, and expiries, send nothing (the page follows its own
//!   checks; an integrator sees an expiry by polling or on the event stream).

use std::time::Duration;

use hmac::{KeyInit as _, Mac as _};
use serde_json::json;
use service_kit::fetch::FetchError;

use crate::Verifier;
use crate::metrics::Event;
use crate::store::SessionStatus;

/// The signature header.
pub const SIGNATURE_HEADER: &str = "x-tessera-signature";
/// Tries per notice.
pub const ATTEMPTS: u32 = 4;
/// The wait before the second try (then doubled).
pub const BACKOFF: Duration = Duration::from_millis(500);

/// `sha256=<hex HMAC-SHA256(secret, body)>` (`None` only if the HMAC refused the key, which
/// it does for no length).
pub fn signature(secret: &str, body: &[u8]) -> Option<String> {
    use std::fmt::Write as _;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).ok()?;
    mac.update(body);
    let tag = mac.finalize().into_bytes();
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256=");
    for b in tag {
        let _ = write!(out, "{b:02x}");
    }
    Some(out)
}

fn retryable(e: &FetchError) -> bool {
    match e {
        FetchError::Status(s) => *s == 408 || *s == 429 || *s >= 500,
        FetchError::RefusedUrl(_) | FetchError::InvalidLimit(..) => false,
        _ => true,
    }
}

/// Sends the notice for session `id` in `status` in the background, when a webhook is
/// configured.
pub(crate) fn notify(st: &Verifier, id: &str, status: SessionStatus) {
    let Some(url) = st.config().webhook_url.clone() else { return };
    let body = json!({"session_id": id, "status": status}).to_string().into_bytes();
    let Some(sig) = signature(&st.config().webhook_secret, &body) else {
        tracing::error!(target: "verifier", session = %id, "webhook: the secret cannot key HMAC-SHA256");
        return;
    };
    let (st, id) = (st.clone(), id.to_owned());
    tokio::spawn(async move {
        let mut wait = BACKOFF;
        for attempt in 1..=ATTEMPTS {
            let deadline = tokio::time::Instant::now() + Duration::from_millis(st.http().limits().fetch_ms);
            match st.http().post(&url, "application/json", &[(SIGNATURE_HEADER, &sig)], body.clone(), deadline).await {
                Ok(_) => {
                    st.metrics().count(Event::WebhookDelivered);
                    return;
                }
                Err(e) if attempt < ATTEMPTS && retryable(&e) => {
                    tracing::info!(target: "verifier", session = %id, attempt, error = %e, "webhook not delivered, retrying");
                    tokio::time::sleep(wait).await;
                    wait = wait.saturating_mul(2);
                }
                Err(e) => {
                    st.metrics().count(Event::WebhookFailed);
                    tracing::warn!(target: "verifier", session = %id, attempt, error = %e, "webhook given up");
                    return;
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_4231_test_case_2() {
        // HMAC-SHA-256 with key "Jefe" over "what do ya want for nothing?".
        assert_eq!(signature("Jefe", b"what do ya want for nothing?").unwrap(), "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }
}
