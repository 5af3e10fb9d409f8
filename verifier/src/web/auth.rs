//! Operator sessions, cookies and CSRF.
//!
//! * Sessions live **in this process's memory**: a restart logs every operator out, and
//!   behind several replicas an operator must stick to one (the checks themselves are in the
//!   verifier's database and survive both). The cookie carries a 256-bit random token; the
//!   map is keyed by its SHA-256. A session ends after `idle_timeout` seconds without a
//!   request, after [`MAX_LIFETIME`] in any case, or at logout.
//! * The cookie: `HttpOnly`, `SameSite=Strict`, `Path=/`; on an `https` entity id also
//!   `Secure` and the `__Host-` prefix. On an `http` entity id (loopback development and
//!   tests) a browser refuses `Secure` cookies and `__Host-` names, so both are left out.
//! * CSRF: every POST carries the session's token in a hidden field, compared in constant
//!   time, and, when the browser sends them, `Origin` must be the verifier's own and
//!   `Sec-Fetch-Site` `same-origin`. The login form too: a visitor gets an anonymous session
//!   (no operator) holding its token; a successful login replaces it with a new session
//!   (new cookie, new token: no fixation).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, header};

use crate::Verifier;

/// The longest an operator session lasts, active or not.
pub const MAX_LIFETIME: Duration = Duration::from_secs(12 * 3_600);
/// The most sessions (anonymous ones included) held at once; past it the oldest goes.
pub const MAX_SESSIONS: usize = 10_000;

/// An operator's (or a visitor's) session.
#[derive(Debug, Clone)]
pub struct OpSession {
    /// The operator, `None` before login.
    pub username: Option<String>,
    /// The name shown.
    pub display_name: String,
    /// The CSRF token of the forms.
    pub csrf: String,
    created: Instant,
    last_seen: Instant,
}

/// The sessions of this process.
#[derive(Debug, Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, OpSession>>,
}

fn key(token: &str) -> String {
    crate::routes::hash(token)
}

impl Sessions {
    /// The live session of `token`, its idle clock restarted; `None` when unknown or over.
    pub fn get(&self, token: &str, idle: Duration) -> Option<OpSession> {
        let now = Instant::now();
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        let k = key(token);
        let s = map.get_mut(&k)?;
        if now.saturating_duration_since(s.last_seen) > idle || now.saturating_duration_since(s.created) > MAX_LIFETIME {
            map.remove(&k);
            return None;
        }
        s.last_seen = now;
        Some(s.clone())
    }

    /// A new session: its cookie token and the session.
    pub fn create(&self, username: Option<String>, display_name: String, idle: Duration) -> Result<(String, OpSession), crate::VerifierError> {
        let token = crate::routes::random()?;
        let now = Instant::now();
        let s = OpSession { username, display_name, csrf: crate::routes::random()?, created: now, last_seen: now };
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= MAX_SESSIONS {
            map.retain(|_, s| now.saturating_duration_since(s.last_seen) <= idle && now.saturating_duration_since(s.created) <= MAX_LIFETIME);
            // Still full: drop the oldest anonymous session, else the oldest.
            if map.len() >= MAX_SESSIONS {
                let victim = map
                    .iter()
                    .min_by_key(|(_, s)| (s.username.is_some(), s.last_seen))
                    .map(|(k, _)| k.clone());
                if let Some(v) = victim {
                    map.remove(&v);
                }
            }
        }
        map.insert(key(&token), s.clone());
        Ok((token, s))
    }

    /// Ends a session.
    pub fn remove(&self, token: &str) {
        self.map.lock().unwrap_or_else(PoisonError::into_inner).remove(&key(token));
    }
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
    fn sessions_end_when_idle_and_at_logout() {
        let s = Sessions::default();
        let minute = Duration::from_secs(60);
        let (token, op) = s.create(Some("agente".into()), "Agente".into(), minute).unwrap();
        assert_eq!(token.len(), 43, "256 bits");
        assert_ne!(op.csrf, token);
        assert_eq!(s.get(&token, minute).unwrap().username.as_deref(), Some("agente"));
        assert!(s.get("another", minute).is_none());
        std::thread::sleep(Duration::from_millis(5));
        assert!(s.get(&token, Duration::from_millis(1)).is_none(), "idle too long");
        assert!(s.get(&token, minute).is_none(), "and gone for good");
        let (token, _) = s.create(None, String::new(), minute).unwrap();
        s.remove(&token);
        assert!(s.get(&token, minute).is_none());
    }

    #[test]
    fn cookies_and_csrf() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, "a=1; tessera-operator=tok; tessera-lang=en".parse().unwrap());
        assert_eq!(cookie(&h, "tessera-operator"), Some("tok"));
        assert_eq!(cookie(&h, "tessera-lang"), Some("en"));
        assert_eq!(cookie(&h, "missing"), None);
        let s = OpSession { username: None, display_name: String::new(), csrf: "abc".into(), created: Instant::now(), last_seen: Instant::now() };
        assert!(csrf_ok(&s, "abc"));
        assert!(!csrf_ok(&s, "abd") && !csrf_ok(&s, ""));
    }
}
