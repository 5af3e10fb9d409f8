//! The issuer plan's rows on what it issues: the SD-JWT VC (IT-Wallet 1.4 §4 "Credential
//! SD-JWT Parameters", SD-JWT §4, SD-JWT VC §3), its binding to the proof key and its
//! `status`, and the Token Status List it points to (IT-Wallet 1.4 §6, Token Status List §4–§8).
//! Each test obtains a credential as an honest wallet and reads its raw parts.

use serde_json::{Map, Value};
use wallet_core::jose::{Jwk, Signer as _, SoftwareSigner};
use wallet_core::status::{Bits, DEFAULT_MAX_DECOMPRESSED, StatusValue, decode_lst};

use crate::plans::jwt::Jwt;
use super::wallet::Session;
use crate::case::{Ctx, Step, ensure, fail};
use crate::client::Response;

/// An issued SD-JWT VC, split: the issuer-signed JWT and the disclosures.
struct Issued {
    raw: String,
    jwt: Jwt,
    disclosures: Vec<String>,
    key: SoftwareSigner,
    configuration: String,
    metadata: Value,
}

/// One credential issued to an honest wallet.
fn issued(ctx: &mut Ctx<'_>) -> Step<Issued> {
    let s = Session::start(ctx)?;
    let (mut keys, v) = s.issue(ctx, 1)?;
    let Some(raw) = v.get("credentials").and_then(Value::as_array).and_then(|c| c.first()).and_then(|c| c.get("credential")).and_then(Value::as_str).map(str::to_owned) else {
        return fail("the credential response has no credentials[0].credential");
    };
    let Some(key) = keys.pop() else { return fail("no key") };
    let mut parts = raw.split('~');
    let jwt = Jwt::decode("the credential's issuer-signed JWT", parts.next().unwrap_or_default())?;
    ctx.record_jwt("the credential's issuer-signed JWT", &jwt.raw);
    let disclosures = parts.filter(|d| !d.is_empty()).map(str::to_owned).collect();
    Ok(Issued { raw, jwt, disclosures, key, configuration: s.configuration, metadata: s.ep.metadata })
}

/// The issuer's credential keys: the metadata's `jwks`.
fn issuer_keys(metadata: &Value) -> Vec<Value> {
    Jwt::keys_of(metadata.get("jwks"))
}

/// CI_084: the credential is bound to the proof's key (`cnf.jwk`).
pub fn ci_084(ctx: &mut Ctx<'_>) -> Step<()> {
    let c = issued(ctx)?;
    let Some(cnf) = c.jwt.payload.get("cnf").and_then(|c| c.get("jwk")) else { return fail("no cnf.jwk") };
    let bound = Jwk::from_value(cnf).ok().map(|j| j.thumbprint().as_str().to_owned());
    ensure(bound.as_deref() == Some(c.key.public_jwk().thumbprint().as_str()), || "cnf.jwk is not the key of the proof".into())
}

/// CI_084a: the credential's `vct` is the requested configuration's.
pub fn ci_084a(ctx: &mut Ctx<'_>) -> Step<()> {
    let c = issued(ctx)?;
    let expected = c.metadata.get("credential_configurations_supported").and_then(|m| m.get(&c.configuration)).and_then(|m| m.get("vct")).and_then(Value::as_str);
    ensure(expected.is_some() && c.jwt.claim_str("vct") == expected, || format!("vct {:?}, the configuration {} has {expected:?}", c.jwt.claim_str("vct"), c.configuration))
}

/// CI_120: the SD-JWT is signed with the issuer's credential key.
pub fn ci_120(ctx: &mut Ctx<'_>) -> Step<()> {
    let c = issued(ctx)?;
    c.jwt.verify_with("the credential", &issuer_keys(&c.metadata))
}

/// CI_122: the payload's structure: `_sd_alg`, and the selectively disclosable claims as
/// digests in an `_sd` array.
pub fn ci_122(ctx: &mut Ctx<'_>) -> Step<()> {
    let c = issued(ctx)?;
    ensure(c.jwt.payload.contains_key("_sd_alg"), || "no _sd_alg".into())?;
    ensure(c.jwt.payload.get("_sd").and_then(Value::as_array).is_some_and(|a| a.iter().all(Value::is_string)), || "no top-level _sd array of digests".into())
}

/// CI_123: `_sd_alg` is `sha-256` (IT-Wallet 1.4 cryptographic algorithms).
pub fn ci_123(ctx: &mut Ctx<'_>) -> Step<()> {
    let c = issued(ctx)?;
    ensure(c.jwt.claim_str("_sd_alg") == Some("sha-256"), || format!("_sd_alg {:?} is not sha-256", c.jwt.payload.get("_sd_alg")))
}

/// CI_125: every disclosure's digest is in the payload (an `_sd` array or an array element).
pub fn ci_125(ctx: &mut Ctx<'_>) -> Step<()> {
    let c = issued(ctx)?;
    ensure(!c.disclosures.is_empty(), || "no disclosures".into())?;
    let mut digests = Vec::new();
    collect_digests(&Value::Object(c.jwt.payload.clone()), &mut digests);
    for d in &c.disclosures {
        let decoded = wallet_core::jose::b64::decode(d).ok().and_then(|b| serde_json::from_slice::<Value>(&b).ok());
        ensure(decoded.as_ref().and_then(Value::as_array).is_some_and(|a| a.len() == 2 || a.len() == 3), || format!("disclosure {d} is not a JSON array of salt, (name,) value"))?;
        let h = wallet_core::sd_jwt::digest(d);
        ensure(digests.contains(&h), || format!("the digest of disclosure {d} is not in the payload"))?;
    }
    Ok(())
}

fn collect_digests(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if k == "_sd" {
                    out.extend(x.as_array().into_iter().flatten().filter_map(Value::as_str).map(str::to_owned));
                } else if k == "..." {
                    out.extend(x.as_str().map(str::to_owned));
                } else {
                    collect_digests(x, out);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| collect_digests(x, out)),
        _ => {}
    }
}

/// CI_130: the combined format for issuance: base64url parts separated by single `~`, ending
/// with `~`.
pub fn ci_130(ctx: &mut Ctx<'_>) -> Step<()> {
    let c = issued(ctx)?;
    ensure(c.raw.ends_with('~'), || "the SD-JWT does not end with ~".into())?;
    let parts: Vec<&str> = c.raw.trim_end_matches('~').split('~').collect();
    for p in parts.iter().skip(1) {
        ensure(!p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), || format!("`{p}` is not a base64url disclosure between single ~"))?;
    }
    Ok(())
}

/// CI_131: the JOSE header: `typ` dc+sd-jwt, an allowed `alg`, and a key reference (`kid`,
/// `x5c` or `trust_chain`).
pub fn ci_131(ctx: &mut Ctx<'_>) -> Step<()> {
    let c = issued(ctx)?;
    ensure(c.jwt.header_str("typ") == Some("dc+sd-jwt"), || format!("typ {:?} is not dc+sd-jwt", c.jwt.header_str("typ")))?;
    ensure(c.jwt.header_str("alg").is_some_and(|a| crate::plans::jwt::ALLOWED_ALGS.contains(&a)), || format!("alg {:?}", c.jwt.header_str("alg")))?;
    ensure(["kid", "x5c", "trust_chain"].iter().any(|k| c.jwt.header.contains_key(*k)), || "no kid, x5c or trust_chain in the header".into())
}

/// CI_132: the payload claims: `iss` (the issuer), `iat`, `exp` (future), `vct`, `cnf`,
/// `status`.
pub fn ci_132(ctx: &mut Ctx<'_>) -> Step<()> {
    let c = issued(ctx)?;
    let me = ctx.target.entity_id.to_string();
    ensure(c.jwt.claim_str("iss") == Some(me.as_str()), || format!("iss {:?} is not {me}", c.jwt.claim_str("iss")))?;
    for claim in ["iat", "exp", "vct", "cnf", "status"] {
        ensure(c.jwt.payload.contains_key(claim), || format!("no `{claim}`"))?;
    }
    let now = wallet_core::time::UnixTime::now().secs();
    ensure(c.jwt.claim_i64("exp").is_some_and(|e| e > now), || "exp is not in the future".into())?;
    ensure(c.jwt.claim_i64("iat").is_some_and(|i| i <= now + 60), || "iat is not a time before now".into())
}

/// The credential's `status.status_list`.
fn status_list_claim(c: &Issued) -> Option<&Map<String, Value>> {
    c.jwt.payload.get("status").and_then(|s| s.get("status_list")).and_then(Value::as_object)
}

/// CI_189: the credential's `status` carries `status_list`.
pub fn ci_189(ctx: &mut Ctx<'_>) -> Step<()> {
    let c = issued(ctx)?;
    ensure(status_list_claim(&c).is_some(), || "no status.status_list object".into())
}

/// `status_list` has `idx` (a non-negative integer) and `uri` (an http(s) URL).
fn status_members(ctx: &mut Ctx<'_>) -> Step<()> {
    let c = issued(ctx)?;
    let Some(sl) = status_list_claim(&c) else { return fail("no status.status_list object") };
    ensure(sl.get("idx").and_then(Value::as_u64).is_some(), || format!("idx {:?} is not a non-negative integer", sl.get("idx")))?;
    ensure(sl.get("uri").and_then(Value::as_str).and_then(|u| url::Url::parse(u).ok()).is_some_and(|u| u.scheme() == "https" || u.scheme() == "http"), || format!("uri {:?} is not a URL", sl.get("uri")))
}

/// CI_133: `status_list` is an object with `idx` and `uri`.
pub fn ci_133(ctx: &mut Ctx<'_>) -> Step<()> {
    status_members(ctx)
}

/// CI_190: the `status_list` claim's parameters.
pub fn ci_190(ctx: &mut Ctx<'_>) -> Step<()> {
    status_members(ctx)
}

/// The Token Status List the credential points to: (credential, response).
fn fetch_list(ctx: &mut Ctx<'_>) -> Step<(Issued, Option<u64>, String, Response)> {
    let c = issued(ctx)?;
    let Some(sl) = status_list_claim(&c) else { return fail("no status.status_list object") };
    let idx = sl.get("idx").and_then(Value::as_u64);
    let Some(uri) = sl.get("uri").and_then(Value::as_str).map(str::to_owned) else { return fail("status_list has no uri") };
    let r = ctx.get(&uri, &[("accept", wallet_core::status::MEDIA_TYPE)])?;
    Ok((c, idx, uri, r))
}

/// The list's token, decoded, after a 2xx.
fn list_token(ctx: &mut Ctx<'_>) -> Step<(Issued, Option<u64>, String, Jwt)> {
    let (c, idx, uri, r) = fetch_list(ctx)?;
    ensure((200..300).contains(&r.status), || format!("the status list endpoint answered {}", r.status))?;
    let jwt = Jwt::decode("the Status List Token", &r.text())?;
    ctx.record_jwt("the Status List Token", &jwt.raw);
    Ok((c, idx, uri, jwt))
}

/// CI_182: the status list endpoint of an issued credential answers.
pub fn ci_182(ctx: &mut Ctx<'_>) -> Step<()> {
    let (_, _, uri, r) = fetch_list(ctx)?;
    ensure((200..300).contains(&r.status), || format!("GET {uri} answered {}", r.status))
}

/// CI_191: 2xx with `Content-Type: application/statuslist+jwt`.
pub fn ci_191(ctx: &mut Ctx<'_>) -> Step<()> {
    let (_, _, uri, r) = fetch_list(ctx)?;
    ensure((200..300).contains(&r.status), || format!("GET {uri} answered {}", r.status))?;
    ensure(r.media_type().as_deref() == Some(wallet_core::status::MEDIA_TYPE), || format!("Content-Type {:?} is not {}", r.media_type(), wallet_core::status::MEDIA_TYPE))
}

/// CI_192: asked with `Accept-Encoding: gzip`, the status list comes gzip-compressed
/// (Token Status List §8.1, RFC 9110 §8.4.1.3), and decompressed it is the token.
pub fn ci_192(ctx: &mut Ctx<'_>) -> Step<()> {
    let c = issued(ctx)?;
    let Some(uri) = status_list_claim(&c).and_then(|sl| sl.get("uri")).and_then(Value::as_str).map(str::to_owned) else { return fail("status_list has no uri") };
    let r = ctx.get(&uri, &[("accept", wallet_core::status::MEDIA_TYPE), ("accept-encoding", wallet_core::status::encoding::ACCEPT_ENCODING)])?;
    ensure((200..300).contains(&r.status), || format!("GET {uri} answered {}", r.status))?;
    ensure(r.header("content-encoding").is_some_and(|e| e.trim().eq_ignore_ascii_case("gzip")), || {
        format!("Content-Encoding {:?}, not gzip, though the request accepted gzip", r.header("content-encoding"))
    })?;
    let body = match wallet_core::status::encoding::decode_body(Some("gzip"), r.body.clone(), wallet_core::status::DEFAULT_MAX_DECOMPRESSED) {
        Ok(b) => b,
        Err(e) => return fail(e.to_string()),
    };
    // A JWT once decompressed; what it says is for CI_177 and the rows after it.
    Jwt::decode("the Status List Token", &String::from_utf8_lossy(&body)).map(drop)
}

/// CI_177: a signed JWT, `typ` statuslist+jwt, signed with the issuer's key.
pub fn ci_177(ctx: &mut Ctx<'_>) -> Step<()> {
    let (c, _, _, jwt) = list_token(ctx)?;
    ensure(jwt.header_str("typ") == Some(wallet_core::status::TYP), || format!("typ {:?} is not {}", jwt.header_str("typ"), wallet_core::status::TYP))?;
    jwt.verify_with("the Status List Token", &issuer_keys(&c.metadata))
}

/// CI_185: `sub` (the credential's `uri`), `iat`, `exp`, `ttl`, `status_list`.
pub fn ci_185(ctx: &mut Ctx<'_>) -> Step<()> {
    let (_, _, uri, jwt) = list_token(ctx)?;
    ensure(jwt.claim_str("sub") == Some(uri.as_str()), || format!("sub {:?} is not the credential's uri {uri}", jwt.claim_str("sub")))?;
    for claim in ["iat", "exp", "ttl", "status_list"] {
        ensure(jwt.payload.contains_key(claim), || format!("no `{claim}`"))?;
    }
    Ok(())
}

/// CI_186: short-lived: `exp` at most 24 hours after `iat`.
pub fn ci_186(ctx: &mut Ctx<'_>) -> Step<()> {
    let (_, _, _, jwt) = list_token(ctx)?;
    let (Some(iat), Some(exp)) = (jwt.claim_i64("iat"), jwt.claim_i64("exp")) else { return fail("no iat or exp") };
    ensure(exp > iat && exp - iat <= 86_400, || format!("exp - iat = {} s", exp - iat))
}

/// `status_list.bits` as [`Bits`].
fn bits(jwt: &Jwt) -> Step<Bits> {
    let b = jwt.payload.get("status_list").and_then(|s| s.get("bits")).and_then(Value::as_u64);
    match b.map(Bits::from_u64) {
        Some(Ok(b)) => Ok(b),
        _ => fail(format!("status_list.bits {b:?} is not 1, 2, 4 or 8")),
    }
}

/// CI_178: `bits` is 1, 2, 4 or 8.
pub fn ci_178(ctx: &mut Ctx<'_>) -> Step<()> {
    let (_, _, _, jwt) = list_token(ctx)?;
    bits(&jwt).map(|_| ())
}

/// CI_187: `status_list` is `{bits, lst}`.
pub fn ci_187(ctx: &mut Ctx<'_>) -> Step<()> {
    let (_, _, _, jwt) = list_token(ctx)?;
    bits(&jwt)?;
    ensure(jwt.payload.get("status_list").and_then(|s| s.get("lst")).and_then(Value::as_str).is_some(), || "status_list.lst is not a string".into())
}

/// The list, inflated.
fn list(jwt: &Jwt) -> Step<wallet_core::status::StatusList> {
    let b = bits(jwt)?;
    let lst = jwt.payload.get("status_list").and_then(|s| s.get("lst")).and_then(Value::as_str).unwrap_or_default();
    decode_lst(lst, b, DEFAULT_MAX_DECOMPRESSED).or_else(|e| fail(format!("lst is not base64url ZLIB/DEFLATE data: {e}")))
}

/// CI_181: `lst` is the byte array compressed with DEFLATE in the ZLIB format.
pub fn ci_181(ctx: &mut Ctx<'_>) -> Step<()> {
    let (_, _, _, jwt) = list_token(ctx)?;
    list(&jwt).map(|_| ())
}

/// The decoded bytes of `status_list.lst` (base64url), before inflating.
fn lst_bytes(jwt: &Jwt) -> Step<Vec<u8>> {
    let lst = jwt.payload.get("status_list").and_then(|s| s.get("lst")).and_then(Value::as_str).unwrap_or_default();
    wallet_core::jose::b64::decode(lst).or_else(|_| fail("status_list.lst is not base64url"))
}

/// CI_181a: the byte array is compressed at the highest level available (Token Status List
/// §4.1: "RECOMMENDED to use the highest compression level"). What a compressor used is what
/// the ZLIB header says of it (RFC 1950 §2.2: `FLEVEL`, bits 6–7 of `FLG`, 3 = "maximum
/// compression, slowest algorithm"); the header must be a valid ZLIB header (`CM` 8,
/// `FCHECK`).
pub fn ci_181a(ctx: &mut Ctx<'_>) -> Step<()> {
    let (_, _, _, jwt) = list_token(ctx)?;
    let raw = lst_bytes(&jwt)?;
    let (Some(&cmf), Some(&flg)) = (raw.first(), raw.get(1)) else { return fail("lst is shorter than a ZLIB header") };
    ensure(cmf & 0x0f == 8 && (u16::from(cmf) * 256 + u16::from(flg)) % 31 == 0, || format!("lst does not start with a ZLIB header (CMF {cmf:#04x}, FLG {flg:#04x})"))?;
    let level = flg >> 6;
    ctx.note(format!("ZLIB FLEVEL {level} (0 fastest, 1 fast, 2 default, 3 maximum)"));
    ensure(level == 3, || format!("the ZLIB header says FLEVEL {level}: the list was not compressed at the maximum level (3)"))
}

/// CI_180: the issuer sets each credential's status in the byte array at its index (`bits`
/// per entry, counted from the least significant bit: Token Status List §4.1). The tool
/// issues a credential, revokes it through the issuer's admin API (our issuer's, the one that
/// makes the offers: `revoke`), fetches the list again: the entry at the credential's `idx`,
/// read LSB first (wallet-core's `StatusList`), is INVALID (0x01).
pub fn ci_180(ctx: &mut Ctx<'_>) -> Step<()> {
    let c = issued(ctx)?;
    let Some(sl) = status_list_claim(&c) else { return fail("no status.status_list object") };
    let Some(idx) = sl.get("idx").and_then(Value::as_u64) else { return fail("the credential's status_list.idx is not a non-negative integer") };
    let Some(uri) = sl.get("uri").and_then(Value::as_str).map(str::to_owned) else { return fail("status_list has no uri") };
    super::refresh::admin_status(ctx, idx, "revoke")?;
    let r = ctx.get(&uri, &[("accept", wallet_core::status::MEDIA_TYPE)])?;
    ensure((200..300).contains(&r.status), || format!("the status list endpoint answered {}", r.status))?;
    let jwt = Jwt::decode("the Status List Token", &r.text())?;
    ctx.record_jwt("the Status List Token after the revocation", &jwt.raw);
    let l = list(&jwt)?;
    match l.get(idx) {
        Ok(StatusValue::Invalid) => Ok(()),
        Ok(v) => fail(format!("the revoked credential's entry at index {idx} reads {} ({:#04x}), not INVALID", v.name(), v.to_u8())),
        Err(e) => fail(format!("index {idx} is not in the list: {e}")),
    }
}

/// The status values IT-Wallet 1.4 defines (§6 "Status values", it-wallet-versions.md §5):
/// VALID, INVALID, SUSPENDED, UPDATE, and ATTRIBUTE_UPDATE at 0x0B (1.3, 1.4.0) or 0x0F
/// (1.4.x since Feb 2026).
const DEFINED_STATUSES: [u8; 6] = [0x00, 0x01, 0x02, 0x03, 0x0B, 0x0F];

/// CI_183: every entry of the list holds a status value the specification defines
/// ([`DEFINED_STATUSES`]). With `bits` 1 or 2 every value is one of them; the check bites
/// with 4 or 8.
pub fn ci_183(ctx: &mut Ctx<'_>) -> Step<()> {
    let (_, _, _, jwt) = list_token(ctx)?;
    let l = list(&jwt)?;
    ctx.note(format!("{} entries of {} bits", l.len(), l.bits().get()));
    for i in 0..l.len() {
        let v = l.get(i).or_else(|e| fail(format!("index {i}: {e}")))?.to_u8();
        if !DEFINED_STATUSES.contains(&v) {
            return fail(format!("index {i} holds {v:#04x}, not a status value IT-Wallet defines (0x00, 0x01, 0x02, 0x03, 0x0B/0x0F)"));
        }
    }
    Ok(())
}

/// CI_176: the credential's `idx` is a position of the list, VALID (0x00) as just issued.
pub fn ci_176(ctx: &mut Ctx<'_>) -> Step<()> {
    let (_, idx, _, jwt) = list_token(ctx)?;
    let Some(idx) = idx else { return fail("the credential's status_list.idx is not a non-negative integer") };
    let l = list(&jwt)?;
    match l.get(idx) {
        Ok(StatusValue::Valid) => Ok(()),
        Ok(v) => fail(format!("the credential just issued is {} at index {idx}", v.name())),
        Err(e) => fail(format!("index {idx} is not in the list: {e}")),
    }
}

/// CI_079: the credential is registered for revocation: its `status_list` index is a position
/// of the issuer's list, VALID.
pub fn ci_079(ctx: &mut Ctx<'_>) -> Step<()> {
    ci_176(ctx)
}

/// CI_175: the credential's status is verifiable as a Token Status List (wallet-core's
/// verifier: media type, `typ`, the issuer's signature, `sub`, times, `bits`, `lst`, the index).
pub fn ci_175(ctx: &mut Ctx<'_>) -> Step<()> {
    let (c, idx, uri, r) = fetch_list(ctx)?;
    let Some(idx) = idx else { return fail("the credential's status_list.idx is not a non-negative integer") };
    let key = issuer_keys(&c.metadata).first().and_then(|k| Jwk::from_value(k).ok());
    let Some(key) = key else { return fail("the issuer metadata has no jwks key") };
    let iss = c.jwt.claim_str("iss").unwrap_or_default().to_owned();
    let resolver = wallet_core::sd_jwt::StaticKeyResolver::for_issuer(key, iss);
    let reference = wallet_core::status::StatusReference { idx, uri };
    let verified = wallet_core::status::StatusListToken::verify_response(r.media_type().as_deref(), &r.body, &reference, &resolver, wallet_core::time::UnixTime::now(), 60, DEFAULT_MAX_DECOMPRESSED);
    match verified {
        Ok(v) => v.lookup(idx).map(|_| ()).or_else(|e| fail(format!("index {idx}: {e}"))),
        Err(e) => fail(format!("the Status List Token does not verify: {e}")),
    }
}

/// CI_179: the byte array holds the credential's position (its length, `bits` per entry,
/// covers `idx`).
pub fn ci_179(ctx: &mut Ctx<'_>) -> Step<()> {
    let (_, idx, _, jwt) = list_token(ctx)?;
    let Some(idx) = idx else { return fail("the credential's status_list.idx is not a non-negative integer") };
    let l = list(&jwt)?;
    ensure(idx < l.len(), || format!("index {idx} is beyond the list's {} entries", l.len()))
}

/// The formats IT-Wallet 1.4 issues credentials in (§4: SD-JWT VC, mdoc).
const FORMATS: [&str; 2] = ["dc+sd-jwt", "mso_mdoc"];

/// Every configuration of the metadata (`pid`: the PID's, else the others) has a format of
/// [`FORMATS`].
fn formats(ctx: &mut Ctx<'_>, pid: bool) -> Step<()> {
    let ep = super::wallet::endpoints(ctx)?;
    let Some(configs) = ep.metadata.get("credential_configurations_supported").and_then(Value::as_object) else { return fail("no credential_configurations_supported") };
    let is_pid = |c: &Value| c.get("vct").and_then(Value::as_str).is_some_and(|v| v.contains(":pid:")) || c.get("doctype").and_then(Value::as_str).is_some_and(|d| d.contains("pid"));
    let mut seen = 0;
    for (id, c) in configs.iter().filter(|(_, c)| is_pid(c) == pid) {
        seen += 1;
        let f = c.get("format").and_then(Value::as_str);
        ensure(f.is_some_and(|f| FORMATS.contains(&f)), || format!("configuration {id} has format {f:?}, not dc+sd-jwt or mso_mdoc"))?;
    }
    if seen == 0 {
        return crate::case::skip(if pid { "the issuer issues no PID" } else { "the issuer issues no (Q)EAA" });
    }
    Ok(())
}

/// CI_118: the (Q)EAAs are offered as `dc+sd-jwt` or `mso_mdoc`.
pub fn ci_118(ctx: &mut Ctx<'_>) -> Step<()> {
    formats(ctx, false)
}

/// CI_119: the PID (and (Q)EAAs) in the digital credential formats: the PID's configurations
/// as `dc+sd-jwt` or `mso_mdoc`.
pub fn ci_119(ctx: &mut Ctx<'_>) -> Step<()> {
    formats(ctx, true)
}

// --- Type metadata (SD-JWT VC §6) ---

/// Where the type metadata of `vct` is retrieved: for an https `vct`, at its host with
/// `/.well-known/vct` inserted before its path (SD-JWT VC §6.3.1); for another `vct` (a URN),
/// at the issuer's `/.well-known/vct/<vct>`.
fn type_metadata_url(ctx: &Ctx<'_>, vct: &str) -> String {
    match url::Url::parse(vct) {
        Ok(u) if u.scheme() == "https" => {
            let origin = u.origin().ascii_serialization();
            format!("{origin}/.well-known/vct{}", u.path().trim_end_matches('/'))
        }
        _ => ctx.target.url(&format!("/.well-known/vct/{vct}")),
    }
}

/// The issued credential's `vct` and its type metadata document (200 JSON expected).
fn type_metadata(ctx: &mut Ctx<'_>) -> Step<(String, Value)> {
    let c = issued(ctx)?;
    let Some(vct) = c.jwt.claim_str("vct").map(str::to_owned) else { return fail("the credential has no vct") };
    let url = type_metadata_url(ctx, &vct);
    let r = ctx.get(&url, &[("accept", "application/json")])?;
    ensure(r.status == 200, || format!("GET {url} answered {}", r.status))?;
    let v = r.json().or_else(|e| fail(format!("the type metadata is not JSON: {e}")))?;
    Ok((vct, v))
}

/// CI_134: the credential's type metadata is served at its well-known location.
pub fn ci_134(ctx: &mut Ctx<'_>) -> Step<()> {
    let (_, v) = type_metadata(ctx)?;
    ensure(v.is_object(), || "the type metadata is not a JSON object".into())
}

/// CI_134a: `vct`s are compared case-sensitively: the type metadata of the credential's `vct`
/// with its case changed is not served.
pub fn ci_134a(ctx: &mut Ctx<'_>) -> Step<()> {
    let (vct, _) = type_metadata(ctx)?;
    let changed: String = vct.chars().map(|c| if c.is_ascii_lowercase() { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() }).collect();
    if changed == vct {
        return crate::case::skip(format!("vct `{vct}` has no letters to change the case of"));
    }
    let url = type_metadata_url(ctx, &changed);
    let r = ctx.get(&url, &[("accept", "application/json")])?;
    let served = r.status == 200 && r.json().ok().and_then(|v| v.get("vct").and_then(Value::as_str).map(str::to_owned)).is_some();
    ensure(!served, || format!("type metadata served for `{changed}`, a vct differing from `{vct}` only in case"))
}

/// CI_135: the type metadata is a JSON object with the parameters of SD-JWT VC §6.2: `vct`
/// (the credential's), and `name`, `description` strings, `display`, `claims` arrays, `extends`
/// a string when present.
pub fn ci_135(ctx: &mut Ctx<'_>) -> Step<()> {
    let (vct, v) = type_metadata(ctx)?;
    ensure(v.get("vct").and_then(Value::as_str) == Some(vct.as_str()), || format!("the type metadata's vct {:?} is not the credential's {vct}", v.get("vct")))?;
    for k in ["name", "description", "extends"] {
        ensure(v.get(k).is_none_or(Value::is_string), || format!("{k} is not a string"))?;
    }
    for k in ["display", "claims"] {
        ensure(v.get(k).is_none_or(Value::is_array), || format!("{k} is not an array"))?;
    }
    let claims = v.get("claims").and_then(Value::as_array).cloned().unwrap_or_default();
    ensure(claims.iter().all(|c| c.get("path").and_then(Value::as_array).is_some_and(|p| !p.is_empty())), || "a claims entry has no non-empty path".into())
}

/// CI_124: the claims not selectively disclosable are plain in the payload, the others only
/// as digests: every `_sd` entry a base64url digest (43 characters for sha-256), and no
/// disclosed claim also plain beside the `_sd` array that digests it.
pub fn ci_124(ctx: &mut Ctx<'_>) -> Step<()> {
    let c = issued(ctx)?;
    let len = match c.jwt.claim_str("_sd_alg").unwrap_or("sha-256") {
        "sha-384" => 64,
        "sha-512" => 86,
        _ => 43,
    };
    let mut digests = Vec::new();
    collect_digests(&Value::Object(c.jwt.payload.clone()), &mut digests);
    for d in &digests {
        ensure(d.len() == len && d.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), || format!("`{d}` in an _sd array is not a base64url digest"))?;
    }
    let top: Vec<String> = c.jwt.payload.get("_sd").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).map(str::to_owned).collect();
    for d in &c.disclosures {
        let decoded = wallet_core::jose::b64::decode(d).ok().and_then(|b| serde_json::from_slice::<Value>(&b).ok());
        let name = decoded.as_ref().and_then(Value::as_array).filter(|a| a.len() == 3).and_then(|a| a.get(1)).and_then(Value::as_str).map(str::to_owned);
        if let Some(name) = name
            && top.contains(&wallet_core::sd_jwt::digest(d))
        {
            ensure(!c.jwt.payload.contains_key(&name), || format!("`{name}` is both selectively disclosable and plain in the payload"))?;
        }
    }
    Ok(())
}

// --- The PID (IT-Wallet 1.4 `credential-data-model-pid.rst`) ---

/// The PID's `vct`s (the current one and the transitional one).
const PID_VCTS: [&str; 2] = ["urn:eudi:pid:it:1", "urn:it-wallet:pid:1"];

/// CI_117: a PID (SD-JWT VC) carries the user attributes of the PID table, each selectively
/// disclosable: `given_name`, `family_name`, `birthdate`, `place_of_birth` (an object with
/// `country`, `region` or `locality`), `nationalities` (an array of alpha-2 codes), and
/// `personal_administrative_number` or `tax_id_code`. (The PID's metadata claims are the
/// general rows' CI_132.)
pub fn ci_117(ctx: &mut Ctx<'_>) -> Step<()> {
    let citizen = super::wallet::setup(ctx)?.citizen.clone();
    let ep = super::wallet::endpoints(ctx)?;
    let pid = ep.metadata.get("credential_configurations_supported").and_then(Value::as_object).and_then(|c| {
        c.iter().find(|(_, v)| v.get("format").and_then(Value::as_str) == Some("dc+sd-jwt") && v.get("vct").and_then(Value::as_str).is_some_and(|t| PID_VCTS.contains(&t))).map(|(k, _)| k.clone())
    });
    let Some(pid) = pid else { return crate::case::skip("the issuer offers no PID in dc+sd-jwt") };
    let s = Session::start_for(ctx, &citizen, &[pid.as_str()])?;
    let (_, v) = s.issue(ctx, 1)?;
    let Some(raw) = v.get("credentials").and_then(Value::as_array).and_then(|c| c.first()).and_then(|c| c.get("credential")).and_then(Value::as_str) else {
        return fail("the credential response has no credentials[0].credential");
    };
    let mut parts = raw.split('~');
    let jwt = Jwt::decode("the PID's issuer-signed JWT", parts.next().unwrap_or_default())?;
    ctx.record_jwt("the PID's issuer-signed JWT", &jwt.raw);
    let disclosed: Map<String, Value> = parts
        .filter(|d| !d.is_empty())
        .filter_map(|d| wallet_core::jose::b64::decode(d).ok().and_then(|b| serde_json::from_slice::<Value>(&b).ok()))
        .filter_map(|d| Some((d.get(1)?.as_str()?.to_owned(), d.get(2)?.clone())))
        .collect();
    for name in ["given_name", "family_name", "birthdate"] {
        ensure(disclosed.get(name).is_some_and(Value::is_string), || format!("no selectively disclosable `{name}` string"))?;
    }
    let place = disclosed.get("place_of_birth").and_then(Value::as_object);
    ensure(place.is_some_and(|p| ["country", "region", "locality"].iter().any(|k| p.contains_key(*k))), || "no place_of_birth object with country, region or locality".into())?;
    let nat = disclosed.get("nationalities").and_then(Value::as_array);
    ensure(nat.is_some_and(|n| !n.is_empty() && n.iter().all(|c| c.as_str().is_some_and(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase())))), || {
        "no nationalities array of alpha-2 codes".into()
    })?;
    ensure(disclosed.contains_key("personal_administrative_number") || disclosed.contains_key("tax_id_code"), || "neither personal_administrative_number nor tax_id_code".into())?;
    for name in ["given_name", "family_name", "birthdate", "place_of_birth", "nationalities", "tax_id_code", "personal_administrative_number"] {
        ensure(!jwt.payload.contains_key(name), || format!("`{name}` is in plain in the payload, not selectively disclosable"))?;
    }
    Ok(())
}

/// CI_159: each credential of a batch has its own lifecycle: its own status list entry.
pub fn ci_159(ctx: &mut Ctx<'_>) -> Step<()> {
    let s = Session::start(ctx)?;
    let (_, v) = s.issue(ctx, 2)?;
    let entries: Vec<(Value, Value)> = v
        .get("credentials")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c.get("credential").and_then(Value::as_str))
        .filter_map(|c| Jwt::decode("a batch credential", c.split('~').next().unwrap_or_default()).ok())
        .filter_map(|j| j.payload.get("status").and_then(|s| s.get("status_list")).map(|l| (l.get("idx").cloned().unwrap_or(Value::Null), l.get("uri").cloned().unwrap_or(Value::Null))))
        .collect();
    ensure(entries.len() == 2, || format!("{} of the batch's two credentials carry status.status_list", entries.len()))?;
    ensure(entries.first() != entries.get(1), || format!("both credentials of the batch share the status entry {:?}", entries.first()))
}

/// CI_121: the credential comes with complete type metadata (SD-JWT VC §6): every claim it
/// discloses at the top level (digested in its `_sd`) is described by a `claims` entry of its `vct`'s document.
pub fn ci_121(ctx: &mut Ctx<'_>) -> Step<()> {
    let c = issued(ctx)?;
    let Some(vct) = c.jwt.claim_str("vct").map(str::to_owned) else { return fail("the credential has no vct") };
    let url = type_metadata_url(ctx, &vct);
    let r = ctx.get(&url, &[("accept", "application/json")])?;
    ensure(r.status == 200, || format!("GET {url} answered {}", r.status))?;
    let v = r.json().or_else(|e| fail(format!("the type metadata is not JSON: {e}")))?;
    let described: Vec<String> =
        v.get("claims").and_then(Value::as_array).into_iter().flatten().filter_map(|c| c.get("path").and_then(Value::as_array).and_then(|p| p.first()).and_then(Value::as_str)).map(str::to_owned).collect();
    let top: Vec<String> = c.jwt.payload.get("_sd").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).map(str::to_owned).collect();
    for d in c.disclosures.iter().filter(|d| top.contains(&wallet_core::sd_jwt::digest(d))) {
        let decoded = wallet_core::jose::b64::decode(d).ok().and_then(|b| serde_json::from_slice::<Value>(&b).ok());
        if let Some(name) = decoded.as_ref().and_then(Value::as_array).filter(|a| a.len() == 3).and_then(|a| a.get(1)).and_then(Value::as_str) {
            ensure(described.iter().any(|x| x == name), || format!("the disclosed claim `{name}` is not described in the type metadata of {vct}"))?;
        }
    }
    Ok(())
}

/// CI_126: nested selective disclosure: an `_sd` array may sit at any level, in the payload or
/// inside a disclosed object; across all levels no digest appears twice (SD-JWT §4.2.4.1,
/// §7.1). (That every disclosure is digested somewhere is CI_125.)
pub fn ci_126(ctx: &mut Ctx<'_>) -> Step<()> {
    let c = issued(ctx)?;
    let mut digests = Vec::new();
    collect_digests(&Value::Object(c.jwt.payload.clone()), &mut digests);
    for d in &c.disclosures {
        let decoded = wallet_core::jose::b64::decode(d).ok().and_then(|b| serde_json::from_slice::<Value>(&b).ok());
        if let Some(value) = decoded.as_ref().and_then(Value::as_array).and_then(|a| a.last()) {
            collect_digests(value, &mut digests);
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    for d in &digests {
        ensure(seen.insert(d.as_str()), || format!("the digest {d} appears twice in the credential"))?;
    }
    Ok(())
}
