//! Operator sessions, cookies and CSRF.
//!
//! * Sessions live **in the verifier's store** (the `store` module, table of operator
//!   sessions): replicas on one PostgreSQL share them (a login on one replica, the next
//!   request on another), and a restart keeps them. The cookie carries a 256-bit random
//!   token; the row is keyed by its SHA-256, never the token. A session ends after
//!   `idle_timeout` seconds without a request, after [`MAX_LIFETIME`] in any case (both
//!   enforced by the query that reads it), or at logout; ended rows go with the store's
//!   purge. Rows exist for logged-in operators only, and logins are rate limited.
//! * The cookie: `HttpOnly`, `SameSite=Strict`, `Path=/`; on an `https` entity id also
//!   `Secure` and the `__Host-` prefix. On an `http` entity id (loopback development and
//!   tests) a browser refuses `Secure` cookies and `__Host-` names, so both are left out.
//! * CSRF: every POST carries the session's CSRF value in a hidden field, compared in
//!   constant time, and, when the browser sends them, `Origin` must be the verifier's own and
//!   `Sec-Fetch-Site` `same-origin`. The value is derived from the cookie's token
//!   ([`csrf_of`]): nothing to store, the same on every replica, worthless without the
//!   cookie. The login form too: a visitor gets a cookie token that is stored nowhere (no
//!   operator), and the form's value is derived from it; a successful login gives a new
//!   token (new cookie, new CSRF value: no fixation).

use std::time::Duration;

use axum::http::{HeaderMap, header};

use crate::Verifier;
use crate::store::OperatorSession;

/// The longest an operator session lasts, active or not.
pub const MAX_LIFETIME: Duration = Duration::from_secs(12 * 3_600);

/// An operator's (or a visitor's) session.
#[derive(Debug, Clone)]
pub struct OpSession {
    /// The operator, `None` before login.
    pub username: Option<String>,
    /// The name shown.
    pub display_name: String,
    /// The CSRF value of the forms.
    pub csrf: String,
}

fn key(token: &str) -> String {
    crate::routes::hash(token)
}

/// The CSRF value of the cookie `token`: a hash of it under a label of its own (so neither
/// the stored key nor the form gives the token).
pub fn csrf_of(token: &str) -> String {
    crate::routes::hash(&format!("tessera-operator-csrf:{token}"))
}

/// A visitor's session (not logged in) for the cookie `token`.
pub fn visitor(token: &str) -> OpSession {
    OpSession { username: None, display_name: String::new(), csrf: csrf_of(token) }
}

/// The session of the cookie `token`: the operator's when a live one is stored (its idle
/// clock restarted), else a visitor's.
pub fn get(st: &Verifier, token: &str, idle: Duration) -> Result<OpSession, crate::store::StoreError> {
    let now = st.now().secs();
    let idle_until = now.saturating_add(secs(idle));
    Ok(match st.store().operator_touch(&key(token), now, idle_until)? {
        Some(op) => OpSession { username: Some(op.username), display_name: op.display_name, csrf: csrf_of(token) },
        None => visitor(token),
    })
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// A new cookie token, stored nowhere (a visitor).
pub fn new_token() -> Result<String, crate::VerifierError> {
    crate::routes::random()
}

/// A new operator session: its cookie token and the session.
pub fn create(st: &Verifier, username: String, display_name: String, idle: Duration) -> Result<(String, OpSession), crate::VerifierError> {
    let token = new_token()?;
    let now = st.now().secs();
    let op = OperatorSession { username, display_name };
    st.store()
        .operator_create(&key(&token), &op, now.saturating_add(secs(idle)), now.saturating_add(secs(MAX_LIFETIME)))
        .map_err(crate::VerifierError::from)?;
    let s = OpSession { username: Some(op.username), display_name: op.display_name, csrf: csrf_of(&token) };
    Ok((token, s))
}

/// Ends the session of the cookie `token` (on every replica).
pub fn remove(st: &Verifier, token: &str) -> Result<(), crate::store::StoreError> {
    st.store().operator_remove(&key(token))
}

/// Whether the page is served over https (the entity id's scheme).
pub fn secure(st: &Verifier) -> bool {
    st.config().entity_id.as_str().starts_with("https://")
}

/// The session cookie's name.
pub fn cookie_name(st: &Verifier) -> &'static str {
    if secure(st) { "__Host-tessera-operator" } else { "tessera-operator" }
}

/// The language cookie's name.
pub const LANG_COOKIE: &str = "tessera-lang";

/// The `Set-Cookie` value giving the session `token`.
pub fn session_cookie(st: &Verifier, token: &str) -> String {
    let s = if secure(st) { "; Secure" } else { "" };
    format!("{}={token}; Path=/; HttpOnly; SameSite=Strict{s}", cookie_name(st))
}

/// The `Set-Cookie` value ending the session cookie.
pub fn clear_cookie(st: &Verifier) -> String {
    let s = if secure(st) { "; Secure" } else { "" };
    format!("{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{s}", cookie_name(st))
}

/// The `Set-Cookie` value remembering the language for a year.
pub fn lang_cookie(st: &Verifier, lang: super::i18n::Lang) -> String {
    let s = if secure(st) { "; Secure" } else { "" };
    format!("{LANG_COOKIE}={}; Path={}; HttpOnly; SameSite=Strict; Max-Age=31536000{s}", lang.code(), super::BASE_PATH)
}

/// The value of cookie `name`.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

/// The verifier's origin (`scheme://host[:port]`), what `Origin` must be.
pub fn origin(st: &Verifier) -> String {
    url::Url::parse(st.config().entity_id.as_str()).map(|u| u.origin().ascii_serialization()).unwrap_or_default()
}

/// Whether a POST comes from our own pages as far as the browser tells: `Origin` (when
/// sent) is ours, `Sec-Fetch-Site` (when sent) is `same-origin`.
pub fn same_origin(st: &Verifier, headers: &HeaderMap) -> bool {
    let ours = origin(st);
    let origin_ok = match headers.get(header::ORIGIN) {
        None => true,
        Some(o) => o.to_str().is_ok_and(|o| !ours.is_empty() && o == ours),
    };
    let site_ok = match headers.get("sec-fetch-site") {
        None => true,
        Some(v) => v.to_str().is_ok_and(|v| v == "same-origin"),
    };
    origin_ok && site_ok
}

/// Whether `given` is the session's CSRF token (constant time).
pub fn csrf_ok(session: &OpSession, given: &str) -> bool {
    !given.is_empty() && wallet_core::subtle_eq(session.csrf.as_bytes(), given.as_bytes())
}

/// Checks `password` for `username` against the configured operators. An unknown user
/// costs the same argon2 work as a known one (a hash of a random password made once), and
/// gets the same answer as a wrong password.
pub fn check_login(st: &Verifier, dummy: &std::sync::OnceLock<String>, username: &str, password: &str) -> Option<super::Operator> {
    let op = st.config().web.operators.iter().find(|o| o.username == username);
    match op {
        Some(op) => super::verify_password(password, &op.password_hash).then(|| op.clone()),
        None => {
            let h = dummy.get_or_init(|| {
                let random = crate::routes::random().unwrap_or_default();
                super::hash_password(&random).unwrap_or_default()
            });
            let _ = super::verify_password(password, h);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_csrf_value_is_bound_to_the_token() {
        assert_eq!(csrf_of("a"), csrf_of("a"));
        assert_ne!(csrf_of("a"), csrf_of("b"));
        assert_ne!(csrf_of("a"), key("a"), "not the stored key");
    }

    #[test]
    fn cookies_and_csrf() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, "a=1; tessera-operator=tok; tessera-lang=en".parse().unwrap());
        assert_eq!(cookie(&h, "tessera-operator"), Some("tok"));
        assert_eq!(cookie(&h, "tessera-lang"), Some("en"));
        assert_eq!(cookie(&h, "missing"), None);
        let s = OpSession { username: None, display_name: String::new(), csrf: "abc".into() };
        assert!(csrf_ok(&s, "abc"));
        assert!(!csrf_ok(&s, "abd") && !csrf_ok(&s, ""));
    }
}
