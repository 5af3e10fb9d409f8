//! Starting a presentation session and following it: one implementation used by the
//! integrator API ([`crate::routes`]) and the in-person page ([`crate::web`]).

use std::time::Duration;

use wallet_core::oid4vp::dcql::DcqlQuery;

use crate::Verifier;
use crate::error::VerifierError;
use crate::metrics::Event;
use crate::store::{Flow, NewSession, Session, SessionStatus};

/// How a wallet fetches the request object (`request_uri_method`, OpenID4VP 1.0 §5.10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Method {
    /// `GET`.
    Get,
    /// `POST` with `wallet_metadata`/`wallet_nonce` (the default: IT-Wallet's example).
    #[default]
    Post,
}

impl Method {
    /// Parses `get` or `post`.
    pub fn parse(s: &str) -> Result<Self, VerifierError> {
        match s {
            "get" => Ok(Self::Get),
            "post" => Ok(Self::Post),
            other => Err(VerifierError::BadRequest(format!("request_uri_method `{other}` is not get or post"))),
        }
    }

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "get",
            Self::Post => "post",
        }
    }
}

/// What a new session asks for.
#[derive(Debug, Clone)]
pub struct SessionRequest {
    /// The DCQL query.
    pub query: DcqlQuery,
    /// Same-device or cross-device.
    pub flow: Flow,
    /// Same device: one of the configured `redirect_uris` (default: the first).
    pub redirect_uri: Option<String>,
    /// `request_uri_method` offered in the wallet URL.
    pub method: Method,
    /// The in-person page's operator (`None`: the integrator API).
    pub owner: Option<String>,
}

/// A session just started.
#[derive(Debug, Clone)]
pub struct StartedSession {
    /// The integrator's handle.
    pub id: String,
    /// What the wallet opens (the QR code's content).
    pub wallet_url: String,
    /// When the wallet's time is up.
    pub expires_at: i64,
}

impl Verifier {
    /// Starts a session: the redirect URI checked against the configuration, fresh 256-bit
    /// handles, `state` and `nonce`, stored before anything is shown to a wallet.
    pub fn start_session(&self, req: SessionRequest) -> Result<StartedSession, VerifierError> {
        let c = self.config();
        let redirect_uri = match (req.flow, req.redirect_uri) {
            (Flow::CrossDevice, None) => None,
            (Flow::CrossDevice, Some(_)) => return Err(VerifierError::BadRequest("redirect_uri is for the same-device flow".into())),
            (Flow::SameDevice, Some(r)) if c.redirect_uris.contains(&r) => Some(r),
            (Flow::SameDevice, Some(r)) => {
                return Err(VerifierError::BadRequest(format!("redirect_uri {r} is not one of the configured redirect_uris")));
            }
            (Flow::SameDevice, None) => Some(
                c.redirect_uris
                    .first()
                    .cloned()
                    .ok_or_else(|| VerifierError::BadRequest("the same-device flow needs redirect_uris in the configuration".into()))?,
            ),
        };
        let now = self.now().secs();
        let _ = self.store().purge(now);
        let r = crate::routes::random;
        let (id, request_id, state, nonce) = (r()?, r()?, r()?, r()?);
        let expires_at = now.saturating_add(c.session_ttl);
        let dcql = req.query.to_value().to_string();
        self.store().create(&NewSession {
            id: &id,
            request_id: &request_id,
            state: &state,
            nonce: &nonce,
            flow: req.flow,
            dcql: &dcql,
            redirect_uri: redirect_uri.as_deref(),
            request_uri_method: req.method.as_str(),
            now,
            expires_at,
            purge_at: expires_at.saturating_add(c.result_ttl),
            owner: req.owner.as_deref(),
        })?;
        self.metrics().count(Event::SessionCreated);
        let wallet_url = crate::routes::wallet_url(self, &request_id, req.method.as_str());
        Ok(StartedSession { id, wallet_url, expires_at })
    }

    /// Waits until session `id` is in a status other than `seen` (as seen at the time:
    /// a pending session past its expiry is `expired`), at most `max`; returns the session
    /// as it is then (`None`: unknown or purged). A change made by this process wakes the
    /// waiter at once; one made by another replica is seen within [`WATCH_POLL`].
    pub async fn watch(&self, id: &str, seen: SessionStatus, max: Duration) -> Result<Option<Session>, VerifierError> {
        let mut changes = self.changes().subscribe();
        let deadline = tokio::time::Instant::now() + max;
        loop {
            let s = self.store().get(id)?;
            match &s {
                Some(s) if s.status_at(self.now().secs()) == seen => {}
                _ => return Ok(s),
            }
            let poll = tokio::time::sleep_until(deadline.min(tokio::time::Instant::now() + WATCH_POLL));
            tokio::select! {
                _ = changes.changed() => {}
                () = poll => {}
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(s);
            }
        }
    }
}

/// How often a watcher looks at the database for changes made by another replica.
pub const WATCH_POLL: Duration = Duration::from_millis(500);
