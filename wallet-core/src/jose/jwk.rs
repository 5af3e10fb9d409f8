//! JSON Web Keys (RFC 7517, RFC 7518 §6, RFC 8037) and their thumbprints (RFC 7638).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::{JoseError, JwsAlg, b64};

/// An elliptic curve of a JWK (`crv` of `kty: EC`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EcCurve {
    /// NIST P-256 (secp256r1).
    P256,
    /// NIST P-384.
    P384,
    /// NIST P-521.
    P521,
}

impl EcCurve {
    /// The `crv` name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::P256 => "P-256",
            Self::P384 => "P-384",
            Self::P521 => "P-521",
        }
    }

    /// The length in bytes of one coordinate (and of the private scalar).
    pub fn coordinate_len(self) -> usize {
        match self {
            Self::P256 => 32,
            Self::P384 => 48,
            Self::P521 => 66,
        }
    }

    fn parse(s: &str) -> Result<Self, JoseError> {
        match s {
            "P-256" => Ok(Self::P256),
            "P-384" => Ok(Self::P384),
            "P-521" => Ok(Self::P521),
            other => Err(JoseError::InvalidKey(format!("unsupported EC curve `{other}`"))),
        }
    }
}

/// The key material of a public JWK, one variant per `kty`. Lengths are checked when the key
/// is built; the point itself is validated by the crypto backend when used.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum JwkParams {
    /// `kty: EC`.
    Ec {
        /// Curve.
        crv: EcCurve,
        /// x coordinate, big-endian, exactly the curve's coordinate length.
        x: Vec<u8>,
        /// y coordinate.
        y: Vec<u8>,
    },
    /// `kty: RSA`.
    Rsa {
        /// Modulus, big-endian.
        n: Vec<u8>,
        /// Public exponent, big-endian.
        e: Vec<u8>,
    },
    /// `kty: OKP`, `crv: Ed25519` (RFC 8037).
    Ed25519 {
        /// The 32-byte public key.
        x: Vec<u8>,
    },
}

impl JwkParams {
    /// A short description ("EC P-256", "RSA", "OKP Ed25519") for error messages.
    pub fn describe(&self) -> String {
        match self {
            Self::Ec { crv, .. } => format!("EC {}", crv.as_str()),
            Self::Rsa { .. } => "RSA".to_owned(),
            Self::Ed25519 { .. } => "OKP Ed25519".to_owned(),
        }
    }

    /// The SEC1 uncompressed point `04 || x || y` of an EC key.
    pub fn ec_point(&self) -> Option<Vec<u8>> {
        match self {
            Self::Ec { x, y, .. } => {
                let mut p = Vec::with_capacity(1 + x.len() + y.len());
                p.push(0x04);
                p.extend_from_slice(x);
                p.extend_from_slice(y);
                Some(p)
            }
            _ => None,
        }
    }
}

/// A public JSON Web Key with the parameters the protocols use. Unknown members are kept
/// (`extra`) so a key re-serializes as it came; private members are refused.
#[derive(Debug, Clone, PartialEq)]
pub struct Jwk {
    /// The key material.
    pub params: JwkParams,
    /// `kid`.
    pub kid: Option<String>,
    /// `alg`, when the key is restricted to one algorithm.
    pub alg: Option<String>,
    /// `use` (`sig` or `enc`).
    pub key_use: Option<String>,
    /// `x5c`: base64 (not base64url) DER certificates, leaf first.
    pub x5c: Option<Vec<String>>,
    /// Other members, kept verbatim.
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// A JWK's RFC 7638 SHA-256 thumbprint, base64url.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JwkThumbprint(String);

impl JwkThumbprint {
    /// The base64url text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for JwkThumbprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Jwk {
    /// A key with no optional members.
    pub fn new(params: JwkParams) -> Self {
        Self { params, kid: None, alg: None, key_use: None, x5c: None, extra: Default::default() }
    }

    /// An EC public key from its coordinates, checking their length.
    pub fn ec(crv: EcCurve, x: Vec<u8>, y: Vec<u8>) -> Result<Self, JoseError> {
        if x.len() != crv.coordinate_len() || y.len() != crv.coordinate_len() {
            return Err(JoseError::InvalidKey(format!(
                "{} coordinates must be {} bytes",
                crv.as_str(),
                crv.coordinate_len()
            )));
        }
        Ok(Self::new(JwkParams::Ec { crv, x, y }))
    }

    /// This key with `kid` set.
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// Reads a public JWK out of an already-parsed JSON value (e.g. `cnf.jwk`) without
    /// copying it: the hot path of key-binding verification.
    pub fn from_value(v: &serde_json::Value) -> Result<Self, JoseError> {
        let serde_json::Value::Object(m) = v else {
            return Err(JoseError::InvalidKey("a JWK must be a JSON object".into()));
        };
        // One pass over the members (no hashing): private ones refused, the EC ones picked.
        let (mut kty, mut crv, mut x, mut y, mut kid, mut alg, mut key_use) = (None, None, None, None, None, None, None);
        for (k, v) in m {
            let slot = match k.as_str() {
                p if p == "d" || PRIVATE_MEMBERS.contains(&p) => {
                    return Err(JoseError::InvalidKey("private key material in a public JWK".into()));
                }
                "kty" => &mut kty,
                "crv" => &mut crv,
                "x" => &mut x,
                "y" => &mut y,
                "kid" => &mut kid,
                "alg" => &mut alg,
                "use" => &mut key_use,
                _ => continue,
            };
            *slot = v.as_str();
        }
        match (kty, crv) {
            (Some("EC"), Some(crv)) => {
                let crv = EcCurve::parse(crv)?;
                let mut jwk = Jwk::ec(crv, b64_member(x, "x")?, b64_member(y, "y")?)?;
                jwk.kid = kid.map(str::to_owned);
                jwk.alg = alg.map(str::to_owned);
                jwk.key_use = key_use.map(str::to_owned);
                Ok(jwk)
            }
            // Other key types are rare here: take the general path.
            _ => serde_json::from_value(v.clone()).map_err(|e| JoseError::BadJson { part: "jwk", detail: e.to_string() }),
        }
    }

    /// Parses a public JWK from JSON text.
    pub fn from_json(s: &str) -> Result<Self, JoseError> {
        serde_json::from_str(s).map_err(|e| JoseError::BadJson { part: "jwk", detail: e.to_string() })
    }

    /// The JSON text of this key.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// RFC 7638 thumbprint with SHA-256: the required members only, in lexicographic order,
    /// without white space.
    pub fn thumbprint(&self) -> JwkThumbprint {
        let canonical = match &self.params {
            JwkParams::Ec { crv, x, y } => format!(
                r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
                crv.as_str(),
                b64::encode(x),
                b64::encode(y)
            ),
            JwkParams::Rsa { n, e } => {
                format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, b64::encode(e), b64::encode(n))
            }
            JwkParams::Ed25519 { x } => {
                format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#, b64::encode(x))
            }
        };
        JwkThumbprint(b64::encode(Sha256::digest(canonical.as_bytes())))
    }

    /// Checks that this key may verify `alg`: the key type and curve must match, and a key
    /// restricted by its own `alg` member must name the same algorithm.
    pub fn check_alg(&self, alg: JwsAlg) -> Result<(), JoseError> {
        let ok = matches!(
            (&self.params, alg),
            (JwkParams::Ec { crv: EcCurve::P256, .. }, JwsAlg::Es256)
                | (JwkParams::Ec { crv: EcCurve::P384, .. }, JwsAlg::Es384)
                | (JwkParams::Ec { crv: EcCurve::P521, .. }, JwsAlg::Es512)
                | (JwkParams::Ed25519 { .. }, JwsAlg::EdDsa)
                | (
                    JwkParams::Rsa { .. },
                    JwsAlg::Rs256
                        | JwsAlg::Rs384
                        | JwsAlg::Rs512
                        | JwsAlg::Ps256
                        | JwsAlg::Ps384
                        | JwsAlg::Ps512
                )
        );
        let alg_member_ok = self.alg.as_deref().is_none_or(|a| a == alg.as_str());
        if ok && alg_member_ok {
            Ok(())
        } else {
            Err(JoseError::KeyAlgMismatch { key: self.params.describe(), alg: alg.to_string() })
        }
    }

    /// Verifies `signature` over `message` with this key.
    pub fn verify(&self, alg: JwsAlg, message: &[u8], signature: &[u8]) -> Result<(), JoseError> {
        self.check_alg(alg)?;
        super::backend::verify(alg, &self.params, message, signature)
    }

    /// Verifies an ES256 `signature` given the SHA-256 `digest` of the message (see
    /// [`super::CompactJws::verify_with_sha256`]).
    pub(crate) fn verify_es256_prehashed(&self, digest: &[u8; 32], signature: &[u8]) -> Result<(), JoseError> {
        self.check_alg(JwsAlg::Es256)?;
        super::backend::verify_es256_prehashed(&self.params, digest, signature)
    }
}

/// A private EC key as a JWK (`d` beside the public members). Kept zeroized; its `Debug`
/// never prints `d`.
#[derive(Clone)]
pub struct PrivateJwk {
    /// The public half.
    pub public: Jwk,
    d: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for PrivateJwk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrivateJwk").field("public", &self.public).field("d", &"[redacted]").finish()
    }
}

impl PrivateJwk {
    /// Builds a private key from its public half and scalar, checking lengths.
    pub fn new(public: Jwk, d: Vec<u8>) -> Result<Self, JoseError> {
        let d = Zeroizing::new(d);
        match &public.params {
            JwkParams::Ec { crv, .. } if d.len() == crv.coordinate_len() => Ok(Self { public, d }),
            JwkParams::Ed25519 { .. } if d.len() == 32 => Ok(Self { public, d }),
            other => Err(JoseError::InvalidKey(format!(
                "private {} key must have a scalar of the curve's length",
                other.describe()
            ))),
        }
    }

    /// The private scalar (`d`), big-endian.
    pub fn d(&self) -> &[u8] {
        &self.d
    }

    /// Parses a private JWK from JSON text (a JWK with `d`).
    pub fn from_json(s: &str) -> Result<Self, JoseError> {
        let wire: JwkWire =
            serde_json::from_str(s).map_err(|e| JoseError::BadJson { part: "jwk", detail: e.to_string() })?;
        let d = wire
            .d
            .as_deref()
            .ok_or_else(|| JoseError::InvalidKey("private JWK has no `d`".into()))
            .and_then(|d| b64::decode(d).map_err(|_| JoseError::BadBase64("jwk d")))?;
        let public = Jwk::try_from(JwkWire { d: None, ..wire })?;
        Self::new(public, d)
    }

    /// The JSON text of this private key (handle with care: it contains `d`).
    pub fn to_json(&self) -> String {
        let mut wire = JwkWire::from(&self.public);
        wire.d = Some(b64::encode(&*self.d));
        serde_json::to_string(&wire).unwrap_or_default()
    }
}

/// The wire form of a JWK, every member optional; [`Jwk`] is built from it with checks.
#[derive(Serialize, Deserialize)]
struct JwkWire {
    kty: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    crv: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    x: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    y: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    n: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    e: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    d: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    alg: Option<String>,
    #[serde(default, rename = "use", skip_serializing_if = "Option::is_none")]
    key_use: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    x5c: Option<Vec<String>>,
    #[serde(flatten)]
    extra: serde_json::Map<String, serde_json::Value>,
}

const PRIVATE_MEMBERS: [&str; 6] = ["p", "q", "dp", "dq", "qi", "k"];

fn b64_member(v: Option<&str>, name: &'static str) -> Result<Vec<u8>, JoseError> {
    let v = v.ok_or_else(|| JoseError::InvalidKey(format!("missing `{name}`")))?;
    b64::decode(v).map_err(|_| JoseError::BadBase64(name))
}

impl TryFrom<JwkWire> for Jwk {
    type Error = JoseError;
    fn try_from(w: JwkWire) -> Result<Self, JoseError> {
        if w.d.is_some() || PRIVATE_MEMBERS.iter().any(|m| w.extra.contains_key(*m)) {
            return Err(JoseError::InvalidKey("private key material in a public JWK".into()));
        }
        let params = match w.kty.as_str() {
            "EC" => {
                let crv = EcCurve::parse(w.crv.as_deref().unwrap_or_default())?;
                let x = b64_member(w.x.as_deref(), "x")?;
                let y = b64_member(w.y.as_deref(), "y")?;
                Jwk::ec(crv, x, y)?.params
            }
            "RSA" => {
                let n = b64_member(w.n.as_deref(), "n")?;
                let e = b64_member(w.e.as_deref(), "e")?;
                if n.is_empty() || e.is_empty() {
                    return Err(JoseError::InvalidKey("empty RSA modulus or exponent".into()));
                }
                JwkParams::Rsa { n, e }
            }
            "OKP" => {
                if w.crv.as_deref() != Some("Ed25519") {
                    return Err(JoseError::InvalidKey(format!(
                        "unsupported OKP curve `{}`",
                        w.crv.unwrap_or_default()
                    )));
                }
                let x = b64_member(w.x.as_deref(), "x")?;
                if x.len() != 32 {
                    return Err(JoseError::InvalidKey("Ed25519 key must be 32 bytes".into()));
                }
                JwkParams::Ed25519 { x }
            }
            "oct" => return Err(JoseError::InvalidKey("symmetric keys are not accepted".into())),
            other => return Err(JoseError::InvalidKey(format!("unsupported kty `{other}`"))),
        };
        Ok(Jwk { params, kid: w.kid, alg: w.alg, key_use: w.key_use, x5c: w.x5c, extra: w.extra })
    }
}

impl From<&Jwk> for JwkWire {
    fn from(k: &Jwk) -> Self {
        let mut w = JwkWire {
            kty: String::new(),
            crv: None,
            x: None,
            y: None,
            n: None,
            e: None,
            d: None,
            kid: k.kid.clone(),
            alg: k.alg.clone(),
            key_use: k.key_use.clone(),
            x5c: k.x5c.clone(),
            extra: k.extra.clone(),
        };
        match &k.params {
            JwkParams::Ec { crv, x, y } => {
                w.kty = "EC".into();
                w.crv = Some(crv.as_str().into());
                w.x = Some(b64::encode(x));
                w.y = Some(b64::encode(y));
            }
            JwkParams::Rsa { n, e } => {
                w.kty = "RSA".into();
                w.n = Some(b64::encode(n));
                w.e = Some(b64::encode(e));
            }
            JwkParams::Ed25519 { x } => {
                w.kty = "OKP".into();
                w.crv = Some("Ed25519".into());
                w.x = Some(b64::encode(x));
            }
        }
        w
    }
}

impl Serialize for Jwk {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        JwkWire::from(self).serialize(s)
    }
}

impl<'de> Deserialize<'de> for Jwk {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let w = JwkWire::deserialize(d)?;
        Jwk::try_from(w).map_err(serde::de::Error::custom)
    }
}

/// A JWK Set (RFC 7517 §5).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct JwkSet {
    /// The keys.
    pub keys: Vec<Jwk>,
}

impl JwkSet {
    /// The key with this `kid`, if any.
    pub fn by_kid(&self, kid: &str) -> Option<&Jwk> {
        self.keys.iter().find(|k| k.kid.as_deref() == Some(kid))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7638 §3.1: the thumbprint of the RFC 7517 A.1 RSA key.
    #[test]
    fn rfc7638_rsa_thumbprint() {
        let jwk = Jwk::from_json(include_str!("../../tests/vectors/rfc7638/rsa.jwk.json")).unwrap();
        assert_eq!(jwk.thumbprint().as_str(), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    }

    /// RFC 8037 A.3: the thumbprint of the Ed25519 example key.
    #[test]
    fn rfc8037_okp_thumbprint() {
        let jwk = Jwk::from_json(r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#)
            .unwrap();
        assert_eq!(jwk.thumbprint().as_str(), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
    }

    #[test]
    fn private_material_in_public_jwk_is_refused() {
        let err = Jwk::from_json(
            r#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","d":"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"}"#,
        )
        .unwrap_err();
        assert!(matches!(err, JoseError::BadJson { ref detail, .. } if detail.contains("private key material")), "{err:?}");
    }

    #[test]
    fn wrong_coordinate_length_is_refused() {
        let err = Jwk::from_json(r#"{"kty":"EC","crv":"P-256","x":"AAAA","y":"AAAA"}"#).unwrap_err();
        assert!(matches!(err, JoseError::BadJson { .. }), "{err:?}");
    }

    #[test]
    fn symmetric_keys_are_refused() {
        let err = Jwk::from_json(r#"{"kty":"oct","k":"AAAA"}"#).unwrap_err();
        assert!(matches!(err, JoseError::BadJson { ref detail, .. } if detail.contains("private key material") || detail.contains("symmetric")), "{err:?}");
    }

    #[test]
    fn key_alg_mismatch() {
        let jwk = Jwk::from_json(r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#)
            .unwrap();
        assert_eq!(
            jwk.check_alg(JwsAlg::Es256),
            Err(JoseError::KeyAlgMismatch { key: "OKP Ed25519".into(), alg: "ES256".into() })
        );
    }
}
