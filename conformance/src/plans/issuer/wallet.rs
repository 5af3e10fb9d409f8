//! The tool as an activated wallet against a credential issuer (OpenID4VCI 1.0 as IT-Wallet
//! 1.4 §3.3 profiles it): an offer from the issuer's admin API, the pre-authorized code at the
//! token endpoint with DPoP, a `c_nonce`, key proofs carrying a WUA signed as the federation's
//! wallet provider. Every message is built by wallet-core (`oid4vci`, `attestation`); what a
//! hostile test alters it alters in these messages, one rule at a time ([`raw_jwt`]).

use serde_json::{Map, Value, json};
use wallet_core::attestation::{GeneralInfo, KeyStorageInfo, ProviderSigning, StorageType, WUA_MIN_LIFETIME, WuaBuilder, WuaWalletInfo};
use wallet_core::federation::{ChainCollector, EntityId, FederationError, Fetcher};
use wallet_core::jose::{Signer as _, SoftwareSigner, b64};
use wallet_core::oid4vci::{CredentialOffer, CredentialRequest, OfferRef, OfferUrl, TokenRequest, dpop_proof, key_proof};
use wallet_core::status::StatusReference;
use wallet_core::time::UnixTime;

use crate::case::{Ctx, Step, ensure, fail, skip};
use crate::client::{Http, Response};
use crate::target::IssuerSetup;

/// The issuer's endpoints, from its metadata.
#[derive(Debug, Clone)]
pub struct Endpoints {
    /// `token_endpoint` (authorization server metadata).
    pub token: String,
    /// `nonce_endpoint`.
    pub nonce: String,
    /// `credential_endpoint`.
    pub credential: String,
    /// `deferred_credential_endpoint`.
    pub deferred: Option<String>,
    /// `notification_endpoint`.
    pub notification: Option<String>,
    /// The issuer metadata.
    pub metadata: Value,
}

/// What the issuer's admin API gave: the offer URL, the offer in it, and the `tx_code`.
#[derive(Debug, Clone)]
pub struct Offer {
    /// The URL as given.
    pub url: String,
    /// The offer (by value).
    pub offer: CredentialOffer,
    /// The `tx_code` sent to the citizen out of band.
    pub tx_code: Option<String>,
}

impl Offer {
    /// The pre-authorized code.
    pub fn code(&self) -> Step<String> {
        match &self.offer.grants.pre_authorized_code {
            Some(g) => Ok(g.pre_authorized_code.clone()),
            None => fail("the offer has no pre-authorized_code grant"),
        }
    }
}

/// The setup the protocol rows need; skips without it.
pub fn setup<'a>(ctx: &Ctx<'a>) -> Step<&'a IssuerSetup> {
    match &ctx.target.issuer {
        Some(s) => Ok(s),
        None => skip("needs --issuer-offers, --issuer-token, --issuer-citizen, --wallet-provider and --wallet-provider-key (and --trust-anchor)"),
    }
}

/// The endpoints from `/.well-known/openid-credential-issuer` and
/// `/.well-known/oauth-authorization-server`.
pub fn endpoints(ctx: &mut Ctx<'_>) -> Step<Endpoints> {
    let metadata = get_json(ctx, &ctx.target.url("/.well-known/openid-credential-issuer"))?;
    let asm = get_json(ctx, &ctx.target.url("/.well-known/oauth-authorization-server"))?;
    let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    let (Some(token), Some(nonce), Some(credential)) = (s(&asm, "token_endpoint"), s(&metadata, "nonce_endpoint"), s(&metadata, "credential_endpoint")) else {
        return fail("the metadata lack token_endpoint, nonce_endpoint or credential_endpoint");
    };
    Ok(Endpoints { token, nonce, credential, deferred: s(&metadata, "deferred_credential_endpoint"), notification: s(&metadata, "notification_endpoint"), metadata })
}

fn get_json(ctx: &mut Ctx<'_>, url: &str) -> Step<Value> {
    let r = ctx.get(url, &[("accept", "application/json")])?;
    ensure(r.status == 200, || format!("GET {url} answered {}", r.status))?;
    r.json().or_else(|e| fail(format!("GET {url}: not JSON: {e}")))
}

/// A pre-authorized offer for `citizen` of `configurations` (all when empty) from the admin API.
pub fn offer(ctx: &mut Ctx<'_>, citizen: &str, configurations: &[&str]) -> Step<Offer> {
    let s = setup(ctx)?;
    let url = format!("{}/admin/offers", s.offers.trim_end_matches('/'));
    let body = json!({"citizen": citizen, "credential_configuration_ids": configurations}).to_string();
    let auth = format!("Bearer {}", s.token);
    let r = ctx.send("POST", &url, &[("authorization", &auth), ("content-type", "application/json")], Some(body.as_bytes()))?;
    ensure(r.status == 201 || r.status == 200, || format!("the admin API answered {} to an offer for {citizen}", r.status))?;
    let v = r.json().or_else(|e| fail(format!("the admin API's answer is not JSON: {e}")))?;
    let Some(offer_url) = v.get("offer_url").and_then(Value::as_str).map(str::to_owned) else { return fail("the admin API's answer has no offer_url") };
    ctx.note(format!("offer URL: {offer_url}"));
    let parsed = match OfferUrl::parse(&offer_url) {
        Ok(u) => u,
        Err(e) => return fail(format!("the offer URL does not parse: {e}")),
    };
    let offer = match parsed.offer {
        OfferRef::Value(o) => o,
        OfferRef::Uri(uri) => {
            let r = ctx.get(&uri, &[("accept", "application/json")])?;
            ensure(r.status == 200, || format!("GET credential_offer_uri answered {}", r.status))?;
            match serde_json::from_slice(&r.body) {
                Ok(o) => o,
                Err(e) => return fail(format!("the offer at credential_offer_uri is not an offer: {e}")),
            }
        }
    };
    Ok(Offer { url: offer_url, offer, tx_code: v.get("tx_code").and_then(Value::as_str).map(str::to_owned) })
}

/// `POST token_endpoint` with the pre-authorized code (and `tx_code`), with `dpop` as the
/// `DPoP` header when given.
pub fn token_request(ctx: &mut Ctx<'_>, ep: &Endpoints, code: &str, tx_code: Option<&str>, dpop: Option<&str>) -> Step<Response> {
    let form = TokenRequest::PreAuthorizedCode { pre_authorized_code: code.to_owned(), tx_code: tx_code.map(str::to_owned) }.to_form();
    let mut headers = vec![("content-type", "application/x-www-form-urlencoded")];
    if let Some(d) = dpop {
        headers.push(("dpop", d));
    }
    ctx.send("POST", &ep.token, &headers, Some(form.as_bytes()))
}

/// A DPoP proof by `key` for `POST url` (with `ath` for `access_token`).
pub fn dpop(key: &SoftwareSigner, url: &str, access_token: Option<&str>) -> Step<String> {
    dpop_proof(key, "POST", url, access_token, None, UnixTime::now()).or_else(|e| fail(format!("building a DPoP proof: {e}")))
}

/// A fresh key.
pub fn new_key() -> Step<SoftwareSigner> {
    SoftwareSigner::generate().or_else(|e| fail(format!("generating a key: {e}")))
}

/// An honest wallet that has redeemed an offer: its DPoP key, access token and the
/// configuration it may request.
pub struct Session {
    /// The endpoints.
    pub ep: Endpoints,
    /// The DPoP key the access token is bound to.
    pub dpop_key: SoftwareSigner,
    /// The access token.
    pub access_token: String,
    /// The offered configuration requested.
    pub configuration: String,
    /// The offer.
    pub offer: Offer,
    /// The refresh token, when the token response carried one.
    pub refresh_token: Option<String>,
}

impl Session {
    /// Offer (to the setup's citizen) → token with DPoP.
    pub fn start(ctx: &mut Ctx<'_>) -> Step<Self> {
        let citizen = setup(ctx)?.citizen.clone();
        Self::start_for(ctx, &citizen, &[])
    }

    /// Offer of `configurations` to `citizen` → token with DPoP.
    pub fn start_for(ctx: &mut Ctx<'_>, citizen: &str, configurations: &[&str]) -> Step<Self> {
        let ep = endpoints(ctx)?;
        let offer = offer(ctx, citizen, configurations)?;
        let Some(configuration) = offer.offer.credential_configuration_ids.first().cloned() else { return fail("the offer names no configuration") };
        let dpop_key = new_key()?;
        let proof = dpop(&dpop_key, &ep.token, None)?;
        let r = token_request(ctx, &ep, &offer.code()?, offer.tx_code.as_deref(), Some(&proof))?;
        ensure(r.status == 200, || format!("the token endpoint refused an honest request: {} {}", r.status, super::protocol::short(&r.text())))?;
        let v = r.json().or_else(|e| fail(format!("the token response is not JSON: {e}")))?;
        let Some(access_token) = v.get("access_token").and_then(Value::as_str).map(str::to_owned) else { return fail("the token response has no access_token") };
        ctx.record_jwt("access token", &access_token);
        let refresh_token = v.get("refresh_token").and_then(Value::as_str).map(str::to_owned);
        Ok(Self { ep, dpop_key, access_token, configuration, offer, refresh_token })
    }

    /// A fresh `c_nonce` from the nonce endpoint.
    pub fn nonce(&self, ctx: &mut Ctx<'_>) -> Step<String> {
        let r = ctx.send("POST", &self.ep.nonce, &[], None)?;
        ensure(r.status == 200, || format!("the nonce endpoint answered {}", r.status))?;
        let v = r.json().or_else(|e| fail(format!("the nonce response is not JSON: {e}")))?;
        match v.get("c_nonce").and_then(Value::as_str) {
            Some(n) => Ok(n.to_owned()),
            None => fail("the nonce response has no c_nonce"),
        }
    }

    /// The issuer's id (`aud` of key proofs): the target's entity id (whether the offer names
    /// it is CI_012's question).
    pub fn issuer(&self, ctx: &Ctx<'_>) -> String {
        ctx.target.entity_id.to_string()
    }

    /// `POST url` with the access token and a fresh DPoP proof (or `dpop`), body `body`.
    pub fn protected(&self, ctx: &mut Ctx<'_>, url: &str, body: &Value, access_token: Option<&str>, dpop_override: Option<&str>) -> Step<Response> {
        let at = access_token.unwrap_or(&self.access_token);
        let proof = match dpop_override {
            Some(p) => p.to_owned(),
            None => dpop(&self.dpop_key, url, Some(at))?,
        };
        let auth = format!("DPoP {at}");
        let body = body.to_string();
        ctx.send("POST", url, &[("authorization", &auth), ("dpop", &proof), ("content-type", "application/json")], Some(body.as_bytes()))
    }

    /// An honest credential request for `n` fresh keys: the keys and the body.
    pub fn honest_request(&self, ctx: &mut Ctx<'_>, n: usize) -> Step<(Vec<SoftwareSigner>, Value)> {
        let keys = (0..n).map(|_| new_key()).collect::<Step<Vec<_>>>()?;
        let refs: Vec<&SoftwareSigner> = keys.iter().collect();
        let wua = wua(ctx, &refs)?;
        let nonce = self.nonce(ctx)?;
        let issuer = self.issuer(ctx);
        let proofs = keys.iter().map(|k| proof(k, &wua, &issuer, &nonce)).collect::<Step<Vec<_>>>()?;
        Ok((keys, self.request(proofs)))
    }

    /// A credential request for the session's configuration with `proofs`.
    pub fn request(&self, proofs: Vec<String>) -> Value {
        serde_json::to_value(CredentialRequest::by_configuration(self.configuration.clone(), proofs)).unwrap_or(Value::Null)
    }

    /// `POST credential_endpoint` with `body`.
    pub fn credential(&self, ctx: &mut Ctx<'_>, body: &Value) -> Step<Response> {
        let url = self.ep.credential.clone();
        self.protected(ctx, &url, body, None, None)
    }

    /// An honest request for `n` credentials, expected to succeed: the keys and the response
    /// body.
    pub fn issue(&self, ctx: &mut Ctx<'_>, n: usize) -> Step<(Vec<SoftwareSigner>, Value)> {
        let (keys, body) = self.honest_request(ctx, n)?;
        let r = self.credential(ctx, &body)?;
        ensure(r.status == 200, || format!("the credential endpoint refused an honest request: {} {}", r.status, super::protocol::short(&r.text())))?;
        let v = r.json().or_else(|e| fail(format!("the credential response is not JSON: {e}")))?;
        Ok((keys, v))
    }
}

/// An honest key proof by `key` with `wua`, for `issuer` with `nonce` (wallet-core).
pub fn proof(key: &SoftwareSigner, wua: &str, issuer: &str, nonce: &str) -> Step<String> {
    key_proof(key, Some(wua), None, issuer, Some(nonce), UnixTime::now()).or_else(|e| fail(format!("building a key proof: {e}")))
}

/// The claims and header of an honest key proof, to alter: (header, payload).
pub fn proof_parts(key: &SoftwareSigner, wua: &str, issuer: &str, nonce: &str) -> (Map<String, Value>, Map<String, Value>) {
    let mut h = Map::new();
    h.insert("alg".into(), "ES256".into());
    h.insert("typ".into(), "openid4vci-proof+jwt".into());
    h.insert("jwk".into(), serde_json::from_str(&key.public_jwk().to_json()).unwrap_or(Value::Null));
    h.insert("key_attestation".into(), wua.into());
    let mut p = Map::new();
    p.insert("aud".into(), issuer.into());
    p.insert("iat".into(), UnixTime::now().secs().into());
    p.insert("nonce".into(), nonce.into());
    (h, p)
}

/// A JWS of `header` and `payload` signed by `key` as they are (the tool's hostile messages).
pub fn raw_jwt(header: &Map<String, Value>, payload: &Map<String, Value>, key: &SoftwareSigner) -> Step<String> {
    let h = b64::encode(Value::Object(header.clone()).to_string());
    let p = b64::encode(Value::Object(payload.clone()).to_string());
    let input = format!("{h}.{p}");
    let sig = key.sign(input.as_bytes()).or_else(|e| fail(format!("signing: {e}")))?;
    Ok(format!("{input}.{}", b64::encode(sig)))
}

/// The setup's wallet provider's trust chain, collected to the target's trust anchor once
/// per run.
pub fn provider_chain(ctx: &mut Ctx<'_>) -> Step<Vec<String>> {
    let s = setup(ctx)?;
    let wp = &s.wallet_provider;
    if let Some(c) = wp.chain.get() {
        return Ok(c.clone());
    }
    let Some(anchor) = ctx.target.trust_anchor.clone() else { return skip("needs --trust-anchor (the wallet provider's trust chain)") };
    let id = EntityId::new(wp.id.as_str()).or_else(|e| fail(format!("--wallet-provider: {e}")))?;
    let anchors = [anchor];
    let fetcher = HttpFetcher(ctx.http());
    let chain = match ChainCollector::new(&fetcher, &anchors).resolve(&id, UnixTime::now()) {
        Ok(c) => c.jwts(),
        Err(e) => return fail(format!("the wallet provider {} has no trust chain to the anchor: {e}", wp.id)),
    };
    let _ = wp.chain.set(chain.clone());
    Ok(chain)
}

/// The wallet solution the tool's attestations describe.
pub fn general_info() -> GeneralInfo {
    GeneralInfo {
        wallet_provider_name: "Tessera conformance".into(),
        wallet_solution_id: "tessera-conformance".into(),
        wallet_solution_version: env!("CARGO_PKG_VERSION").into(),
        wallet_solution_certification_information: String::new(),
    }
}

/// A WUA attesting `keys`, signed as the setup's wallet provider with its trust chain.
pub fn wua(ctx: &mut Ctx<'_>, keys: &[&SoftwareSigner]) -> Step<String> {
    let chain = provider_chain(ctx)?;
    let wp = &setup(ctx)?.wallet_provider;
    let info = general_info();
    let storage = KeyStorageInfo { storage_type: StorageType::LocalNative, keys_exportable: false, storage_certification_information: String::new() };
    // Index 0 of the provider's list: a valid instance's, or one never allocated (VALID).
    let status = StatusReference { idx: 0, uri: format!("{}/status-list", wp.id.trim_end_matches('/')) };
    let wua = WuaBuilder::new(&wp.id, keys.iter().map(|k| k.public_jwk()).collect(), status, WuaWalletInfo { general_info: info, key_storage_info: storage }, UnixTime::now(), WUA_MIN_LIFETIME)
        .sign(&ProviderSigning::new(&*wp.key).with_trust_chain(chain));
    wua.or_else(|e| fail(format!("signing the WUA: {e}")))
}

/// wallet-core's federation fetcher over the tool's client (not recorded: chain collection is
/// the tool's setup, not the issuer's answer).
struct HttpFetcher<'a>(&'a Http);

impl Fetcher for HttpFetcher<'_> {
    fn get(&self, url: &str, accept: &str) -> Result<String, FederationError> {
        let fail = |reason: String| FederationError::Fetch { url: url.to_owned(), reason };
        let (r, _) = self.0.send("GET", url, &[("accept", accept)], None);
        let r = r.map_err(|e| fail(e.to_string()))?;
        if r.status != 200 {
            return Err(fail(format!("HTTP {}", r.status)));
        }
        Ok(r.text())
    }
}
