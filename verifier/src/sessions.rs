//! Starting a presentation session and following it: one implementation used by the
//! integrator API ([`crate::routes`]) and the in-person page ([`crate::web`]).

use std::time::Duration;

use wallet_core::oid4vp::dcql::DcqlQuery;
use wallet_core::oid4vp::{AuthorizationRequestUrl, ClientId, RequestUriMethod};

use crate::Verifier;
use crate::error::VerifierError;
use crate::metrics::Event;
pub use crate::store::{ClientIdPrefix, RequestMode};
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

/// How a session's request is issued, besides what it asks (the integrator API's
/// `client_id_prefix` and `request_mode`; the in-person page takes the defaults).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionOptions {
    /// `openid_federation` (default) or `x509_hash`.
    pub client_id_prefix: ClientIdPrefix,
    /// By reference (default) or by value.
    pub request_mode: RequestMode,
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
    /// The `client_id` its request object is issued under.
    pub client_id: String,
}

impl Verifier {
    /// Starts a session with the default [`SessionOptions`] (`openid_federation`, by
    /// reference): the redirect URI checked against the configuration, fresh 256-bit
    /// handles, `state` and `nonce`, stored before anything is shown to a wallet.
    pub fn start_session(&self, req: SessionRequest) -> Result<StartedSession, VerifierError> {
        let (session, purge_at) = self.new_session(req, SessionOptions::default())?;
        self.store_session(&session, purge_at)
    }

    /// Starts a session with `opts`: as [`Verifier::start_session`]; an `x509_hash` session
    /// is bound to the current protocol certificate of the request object key (its
    /// `client_id` hashes it), and a by-value session's request object is signed now (503
    /// before we are onboarded), the wallet URL carrying it.
    pub async fn start_session_with(&self, req: SessionRequest, opts: SessionOptions) -> Result<StartedSession, VerifierError> {
        let (mut session, purge_at) = self.new_session(req, opts)?;
        if opts.request_mode == RequestMode::Value {
            session.request_object = Some(crate::wallet::sign_request_object(self, &session, None).await?);
        }
        self.store().create_grouped(&new_row(&session, purge_at)).await?;
        self.started(&session)
    }

    fn new_session(&self, req: SessionRequest, opts: SessionOptions) -> Result<(Session, i64), VerifierError> {
        let c = self.config();
        // `mso_mdoc` is requested in the 1.4 profile only (versions note §5, verifier item 6):
        // 1.3 wallets are never asked for one.
        if !c.profile.offers_mdoc()
            && let Some(q) = req.query.credentials.iter().find(|q| q.format == wallet_core::oid4vp::dcql::CredentialFormat::MsoMdoc)
        {
            return Err(VerifierError::BadRequest(format!("credential query `{}`: mso_mdoc is requested only in the it-wallet-1.4 profile; this verifier runs it-wallet-1.3", q.id)));
        }
        // A `trusted_authorities` of only types we cannot match (`etsi_tl`, unknown ones)
        // would refuse every answer (OpenID4VP 1.0 §6.1.1): refused now, not at the citizen's.
        if let Some(q) = req.query.credentials.iter().find(|q| q.trusted_authorities.as_ref().is_some_and(|ta| !ta.iter().any(|e| e.kind.is_supported()))) {
            return Err(VerifierError::BadRequest(format!(
                "credential query `{}`: trusted_authorities has no entry of a type this verifier can match (aki, openid_federation)",
                q.id
            )));
        }
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
        let now = self.now();
        // The id time-ordered (`service_kit::ids`): new rows go to the last pages of the key's
        // index, not to random pages a commit. The handles a wallet gets carry the id, by
        // which the store finds their row (`store::sqlite`, keyed handles); their secret part
        // is 256 random bits, as the nonce.
        let [id] = service_kit::ids::ordered().map_err(VerifierError::internal)?;
        let mut secrets = [[0u8; 32]; 3];
        getrandom::fill(secrets.as_flattened_mut()).map_err(VerifierError::internal)?;
        let [request_secret, state_secret, nonce] = secrets.map(wallet_core::jose::b64::encode);
        let (request_id, state) = (format!("{id}.{request_secret}"), format!("{id}.{state_secret}"));
        let expires_at = now.secs().saturating_add(c.session_ttl);
        let x5c_leaf = match opts.client_id_prefix {
            ClientIdPrefix::OpenidFederation => None,
            ClientIdPrefix::X509Hash => Some(self.keys().protocol_leaf(now)?),
        };
        let session = Session {
            id,
            request_id,
            state,
            nonce,
            flow: req.flow,
            dcql: serde_json::to_string(&req.query).map_err(VerifierError::internal)?,
            redirect_uri,
            request_uri_method: req.method.as_str().to_owned(),
            status: SessionStatus::Created,
            created_at: now.secs(),
            expires_at,
            result: None,
            result_taken: false,
            owner: req.owner,
            client_id_prefix: opts.client_id_prefix,
            request_mode: opts.request_mode,
            x5c_leaf,
            request_object: None,
            fetched_at: None,
            completed_at: None,
        };
        Ok((session, expires_at.saturating_add(c.result_ttl)))
    }

    fn store_session(&self, s: &Session, purge_at: i64) -> Result<StartedSession, VerifierError> {
        self.store().create(&new_row(s, purge_at))?;
        self.started(s)
    }

    /// A session stored: counted, and what its starter gets. (Due sessions are purged by the
    /// serve loop every `PURGE_INTERVAL`, not here: a purge per new session was a table scan
    /// on the hot path.)
    fn started(&self, s: &Session) -> Result<StartedSession, VerifierError> {
        self.metrics().count(Event::SessionCreated);
        Ok(StartedSession { id: s.id.clone(), wallet_url: self.wallet_url(s)?, expires_at: s.expires_at, client_id: self.client_id(s)?.as_str().to_owned() })
    }

    /// The `client_id` a session's request object is issued under: `openid_federation:<entity
    /// id>`, or `x509_hash:` of its stored `x5c` leaf.
    pub fn client_id(&self, s: &Session) -> Result<ClientId, VerifierError> {
        match (s.client_id_prefix, &s.x5c_leaf) {
            (ClientIdPrefix::OpenidFederation, _) => Ok(ClientId::federation(&self.config().entity_id)),
            (ClientIdPrefix::X509Hash, Some(leaf)) => {
                use base64::Engine as _;
                let der = base64::engine::general_purpose::STANDARD.decode(leaf).map_err(VerifierError::internal)?;
                Ok(ClientId::x509_hash_of(&der))
            }
            (ClientIdPrefix::X509Hash, None) => Err(VerifierError::internal(format!("x509_hash session {} without its leaf certificate", s.id))),
        }
    }

    /// What the wallet opens for session `s` (the QR code's content): by reference,
    /// `client_id`, `request_uri` (`<entity>/request-uri?id=<handle>`) and
    /// `request_uri_method`; by value, `client_id` and `request`.
    pub fn wallet_url(&self, s: &Session) -> Result<String, VerifierError> {
        let c = self.config();
        let client_id = self.client_id(s)?;
        let url = match (s.request_mode, &s.request_object) {
            (RequestMode::Value, Some(jwt)) => AuthorizationRequestUrl::by_value(c.wallet_invocation.clone(), client_id, jwt.clone()),
            (RequestMode::Value, None) => return Err(VerifierError::internal(format!("by-value session {} without its request object", s.id))),
            (RequestMode::Reference, _) => {
                let request_uri = format!("{}?id={}", c.endpoint(crate::routes::REQUEST_URI_PATH), s.request_id);
                let method = if s.request_uri_method == "get" { RequestUriMethod::Get } else { RequestUriMethod::Post };
                AuthorizationRequestUrl::by_reference(c.wallet_invocation.clone(), client_id, request_uri, method)
            }
        };
        Ok(url.to_url())
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

/// How long past its expiry a stream of a session still pending waits before it ends (the
/// expiry itself is seen within [`WATCH_POLL`]).
const STREAM_GRACE: i64 = 5;

/// Where a [`Verifier::status_changes`] stream is.
enum Next {
    First,
    After(SessionStatus),
    Done,
}

impl Verifier {
    /// The session `id` now, then each time its status is seen to change ([`Verifier::watch`]:
    /// at once for changes made here, within [`WATCH_POLL`] for another replica's), until a
    /// final status (`verified`, `refused`, `declined`, `expired`), which is the last item.
    /// A status that lasts less than the time it takes to look (`response_received` while a
    /// response is verified) may be skipped. Empty for an unknown session; ends if the
    /// session is purged meanwhile, or a few seconds after its expiry.
    pub fn status_changes(&self, id: &str) -> impl futures_util::Stream<Item = Result<Session, VerifierError>> + Send + 'static {
        let (st, id) = (self.clone(), id.to_owned());
        futures_util::stream::unfold(Next::First, move |next| {
            let (st, id) = (st.clone(), id.clone());
            async move {
                let prev = match next {
                    Next::Done => return None,
                    Next::First => match st.store().get(&id) {
                        Ok(Some(s)) => {
                            let status = s.status_at(st.now().secs());
                            let next = if status.is_pending() { Next::After(status) } else { Next::Done };
                            return Some((Ok(s), next));
                        }
                        Ok(None) => return None,
                        Err(e) => return Some((Err(e.into()), Next::Done)),
                    },
                    Next::After(prev) => prev,
                };
                loop {
                    let now = st.now().secs();
                    let s = match st.store().get(&id) {
                        Ok(Some(s)) => s,
                        Ok(None) => return None,
                        Err(e) => return Some((Err(e.into()), Next::Done)),
                    };
                    if now > s.expires_at.saturating_add(STREAM_GRACE) && s.status_at(now) == prev {
                        return None;
                    }
                    let left = s.expires_at.saturating_add(STREAM_GRACE).saturating_sub(now).clamp(1, 60);
                    match st.watch(&id, prev, Duration::from_secs(left.unsigned_abs())).await {
                        Ok(Some(s)) => {
                            let status = s.status_at(st.now().secs());
                            if status != prev {
                                let next = if status.is_pending() { Next::After(status) } else { Next::Done };
                                return Some((Ok(s), next));
                            }
                        }
                        Ok(None) => return None,
                        Err(e) => return Some((Err(e), Next::Done)),
                    }
                }
            }
        })
    }
}

/// The row that stores `s`, deleted at `purge_at`.
fn new_row(s: &Session, purge_at: i64) -> NewSession<'_> {
    NewSession {
        id: &s.id,
        request_id: &s.request_id,
        state: &s.state,
        nonce: &s.nonce,
        flow: s.flow,
        dcql: &s.dcql,
        redirect_uri: s.redirect_uri.as_deref(),
        request_uri_method: &s.request_uri_method,
        now: s.created_at,
        expires_at: s.expires_at,
        purge_at,
        owner: s.owner.as_deref(),
        client_id_prefix: s.client_id_prefix,
        request_mode: s.request_mode,
        x5c_leaf: s.x5c_leaf.as_deref(),
        request_object: s.request_object.as_deref(),
    }
}
