//! JWS algorithm identifiers (RFC 7518 §3, RFC 8037 for EdDSA).

use std::fmt;
use std::str::FromStr;

use super::JoseError;

/// A JWS algorithm we can verify. `none` and `HS*` are not representable: they are refused
/// when parsed (IT-Wallet `algorithms.rst`: MUST NOT).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JwsAlg {
    /// ECDSA P-256 with SHA-256.
    Es256,
    /// ECDSA P-384 with SHA-384.
    Es384,
    /// ECDSA P-521 with SHA-512.
    Es512,
    /// Ed25519 (RFC 8037).
    EdDsa,
    /// RSASSA-PKCS1-v1_5 with SHA-256 (SPID/CIE interop).
    Rs256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    Rs384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    Rs512,
    /// RSASSA-PSS with SHA-256.
    Ps256,
    /// RSASSA-PSS with SHA-384.
    Ps384,
    /// RSASSA-PSS with SHA-512.
    Ps512,
}

impl JwsAlg {
    /// The registered name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Es256 => "ES256",
            Self::Es384 => "ES384",
            Self::Es512 => "ES512",
            Self::EdDsa => "EdDSA",
            Self::Rs256 => "RS256",
            Self::Rs384 => "RS384",
            Self::Rs512 => "RS512",
            Self::Ps256 => "PS256",
            Self::Ps384 => "PS384",
            Self::Ps512 => "PS512",
        }
    }
}

impl fmt::Display for JwsAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JwsAlg {
    type Err = JoseError;
    fn from_str(s: &str) -> Result<Self, JoseError> {
        Ok(match s {
            "ES256" => Self::Es256,
            "ES384" => Self::Es384,
            "ES512" => Self::Es512,
            "EdDSA" | "Ed25519" => Self::EdDsa,
            "RS256" => Self::Rs256,
            "RS384" => Self::Rs384,
            "RS512" => Self::Rs512,
            "PS256" => Self::Ps256,
            "PS384" => Self::Ps384,
            "PS512" => Self::Ps512,
            s if s.eq_ignore_ascii_case("none") || s.starts_with("HS") => {
                return Err(JoseError::ForbiddenAlg(s.to_owned()));
            }
            s => return Err(JoseError::UnsupportedAlg(s.to_owned())),
        })
    }
}

impl serde::Serialize for JwsAlg {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for JwsAlg {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The JWS/JWE `alg` values IT-Wallet forbids (`algorithms.rst`, "The following algorithms
/// MUST NOT be supported"; matrix ALL-007), as registered in RFC 7518: `none`, `RSA1_5`
/// (the spec writes `RSA_1_5`), `RSA-OAEP` (`RSA-OAEP-256` is a MUST), `HS256`, `HS384`,
/// `HS512`. No `enc` value is forbidden (`A128CBC-HS256`, `A256CBC-HS512` are MUSTs).
pub const IT_WALLET_FORBIDDEN: &[&str] = &["none", "RSA1_5", "RSA-OAEP", "HS256", "HS384", "HS512"];

/// Whether IT-Wallet forbids `name` as a JWS/JWE `alg` ([`IT_WALLET_FORBIDDEN`]): such an
/// algorithm must be neither advertised nor accepted. Compared ignoring ASCII case, and the
/// spec's spelling `RSA_1_5` is included, so no variant spelling slips through.
pub fn it_wallet_forbidden(name: &str) -> bool {
    name.eq_ignore_ascii_case("RSA_1_5") || IT_WALLET_FORBIDDEN.iter().any(|f| f.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_007_it_wallet_forbidden_algorithms() {
        for bad in ["none", "None", "NONE", "RSA1_5", "RSA_1_5", "RSA-OAEP", "rsa-oaep", "HS256", "HS384", "HS512"] {
            assert!(it_wallet_forbidden(bad), "{bad}");
        }
        // The MUSTs and RECOMMENDEDs, and what SPID/CIE interop still uses.
        for ok in [
            "ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "RS256", "EdDSA", "RSA-OAEP-256", "RSA-OAEP-384", "ECDH-ES",
            "ECDH-ES+A128KW", "ECDH-ES+A256KW", "A128CBC-HS256", "A256CBC-HS512", "A128GCM", "A256GCM", "",
        ] {
            assert!(!it_wallet_forbidden(ok), "{ok}");
        }
        // Every JWS algorithm we can verify is allowed.
        for a in [JwsAlg::Es256, JwsAlg::Es384, JwsAlg::Es512, JwsAlg::EdDsa, JwsAlg::Rs256, JwsAlg::Rs384, JwsAlg::Rs512, JwsAlg::Ps256, JwsAlg::Ps384, JwsAlg::Ps512] {
            assert!(!it_wallet_forbidden(a.as_str()), "{a}");
        }
    }

    #[test]
    fn none_and_hmac_are_forbidden() {
        for bad in ["none", "None", "HS256", "HS384", "HS512"] {
            assert_eq!(bad.parse::<JwsAlg>(), Err(JoseError::ForbiddenAlg(bad.into())));
        }
        assert_eq!("RSA1_5".parse::<JwsAlg>(), Err(JoseError::UnsupportedAlg("RSA1_5".into())));
    }

    #[test]
    fn names_round_trip() {
        for a in [JwsAlg::Es256, JwsAlg::Es384, JwsAlg::Es512, JwsAlg::EdDsa, JwsAlg::Rs256, JwsAlg::Ps256] {
            assert_eq!(a.as_str().parse::<JwsAlg>(), Ok(a));
        }
    }
}
