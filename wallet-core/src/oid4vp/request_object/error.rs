//! Why a request object was refused: one variant per rule of IT-Wallet 1.4 §5.1 and §8
//! ("Wallet rejects"), each mapped to its OpenID4VP error code.

use crate::federation::FederationError;
use crate::jose::JoseError;
use crate::oid4vp::client_id::ClientIdError;
use crate::oid4vp::dcql::DcqlError;
use crate::x509::X509Error;

/// Why a request object was refused (wallet side) or could not be built (verifier side).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestObjectError {
    /// Not a compact JWS with a JSON payload.
    #[error("malformed request object: {0}")]
    Malformed(JoseError),
    /// A claim has the wrong type or the payload is not the claims object.
    #[error("request object claim `{claim}` malformed: {detail}")]
    BadClaim {
        /// The claim.
        claim: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// A required claim is missing.
    #[error("request object claim `{0}` missing")]
    MissingClaim(&'static str),
    /// `typ` is present and not `oauth-authz-req+jwt` (RFC 9101 §10.8).
    #[error("request object typ {0:?} is not oauth-authz-req+jwt")]
    WrongTyp(Option<String>),
    /// The request object's `client_id` is not the one of the request URL (WP_086).
    #[error("request object client_id `{in_object}` differs from the URL's `{in_url}`")]
    ClientIdMismatch {
        /// From the URL.
        in_url: String,
        /// From the request object.
        in_object: String,
    },
    /// The `client_id` claim is unusable.
    #[error("client_id: {0}")]
    ClientId(ClientIdError),
    /// `iss` does not name the client (WP_086: `client_id` == `iss`).
    #[error("request object iss `{0}` is not the client_id")]
    IssMismatch(String),
    /// Federation client without the RP's validated trust chain.
    #[error("no trust chain for the relying party (resolve it before verifying)")]
    MissingTrustChain,
    /// The trust chain is about another entity than the `client_id` (WP_086: == EC `sub`).
    #[error("the trust chain is about `{chain_subject}`, not the client `{client}`")]
    EntityMismatch {
        /// The client's entity id.
        client: String,
        /// The chain's subject.
        chain_subject: String,
    },
    /// The RP's trust chain did not validate (WP_087).
    #[error("relying party trust chain: {0}")]
    UntrustedChain(FederationError),
    /// The chain has no `openid_credential_verifier` metadata.
    #[error("the relying party has no openid_credential_verifier metadata")]
    NoVerifierMetadata,
    /// The RP's metadata is malformed.
    #[error("relying party metadata malformed: {0}")]
    BadMetadata(String),
    /// The header has no `kid` naming a key of the RP's metadata `jwks`.
    #[error("request object kid {0:?} names no key of the relying party")]
    UnknownKid(Option<String>),
    /// The header has no `x5c` (REQUIRED for `x509_hash`).
    #[error("request object header has no x5c")]
    MissingX5c,
    /// The `x5c` leaf does not hash to the `x509_hash` client id (OpenID4VP §5.9.3).
    #[error("x5c leaf certificate does not match the x509_hash client_id")]
    X509HashMismatch,
    /// `x5c` carries a self-signed (root) certificate (IT-Wallet §1.3: the root is excluded).
    #[error("x5c includes a root certificate")]
    RootInChain,
    /// No X.509 trust anchors were configured for an `x5c` check.
    #[error("no X.509 trust anchors configured")]
    NoX509Anchors,
    /// The `x5c` chain does not verify to the federation CA.
    #[error("x5c chain: {0}")]
    Certificate(X509Error),
    /// The `x5c` leaf key is not the federation key that signed (federation client with
    /// `x5c`).
    #[error("x5c leaf key is not the request object signing key")]
    X5cKeyMismatch,
    /// The `x5c` leaf's SAN does not name the host of `uri` (IT-Wallet §1.3).
    #[error("x5c leaf certificate does not name the host of {0}")]
    SanMismatch(String),
    /// The signature does not verify.
    #[error("request object signature invalid")]
    BadSignature,
    /// `response_uri` not among the RP's `response_uris` (WP_091a).
    #[error("response_uri `{0}` is not registered by the relying party")]
    ResponseUriNotRegistered(String),
    /// `transaction_data` this wallet cannot show or bind (OpenID4VP 1.0 §5.1: no type is
    /// supported yet).
    #[error("transaction_data not supported: {0}")]
    TransactionDataNotSupported(String),
    /// `redirect_uri` not among the RP's `redirect_uris` (WP_094a).
    #[error("redirect_uri `{0}` is not registered by the relying party")]
    RedirectUriNotRegistered(String),
    /// The `request_uri` the wallet fetched is not among the RP's `request_uris` (WP_081).
    #[error("request_uri `{0}` is not registered by the relying party")]
    RequestUriNotRegistered(String),
    /// `exp` passed.
    #[error("request object expired at {exp} (now {now})")]
    Expired {
        /// `exp`.
        exp: i64,
        /// The wallet's time.
        now: i64,
    },
    /// `iat` in the future.
    #[error("request object issued in the future ({iat}, now {now})")]
    IssuedInFuture {
        /// `iat`.
        iat: i64,
        /// The wallet's time.
        now: i64,
    },
    /// Another time rule broken (out of range, `exp` not after `iat`, too long-lived).
    #[error("request object time: {0}")]
    Time(crate::time::TimeError),
    /// `response_type` is not `vp_token`.
    #[error("response_type `{0}` is not vp_token")]
    UnsupportedResponseType(String),
    /// `response_mode` is not `direct_post.jwt` (IT-Wallet 1.3 and 1.4: REQUIRED).
    #[error("response_mode `{0}` is not direct_post.jwt")]
    ResponseModeNotAllowed(String),
    /// `nonce` shorter than 32 characters (IT-Wallet §5.1).
    #[error("nonce has {len} characters, fewer than {min}")]
    NonceTooShort {
        /// Its length.
        len: usize,
        /// The minimum.
        min: usize,
    },
    /// The wallet sent a `wallet_nonce` and the request object does not carry it.
    #[error("wallet_nonce missing from the request object")]
    WalletNonceMissing,
    /// The request object's `wallet_nonce` is not the wallet's.
    #[error("wallet_nonce does not match the one the wallet sent")]
    WalletNonceMismatch,
    /// No `dcql_query` (REQUIRED in IT-Wallet 1.3 and 1.4).
    #[error("dcql_query missing")]
    MissingDcqlQuery,
    /// `presentation_definition` (Presentation Exchange, IT-Wallet 0.8) is not supported.
    #[error("presentation_definition is not supported; use dcql_query")]
    PresentationDefinitionUnsupported,
    /// The DCQL query is invalid.
    #[error("dcql_query: {0}")]
    Dcql(DcqlError),
    /// The DCQL query asks only for formats this wallet does not support.
    #[error("credential format `{0}` not supported")]
    VpFormatsNotSupported(String),
    /// No P-256 `enc` key with a `kid` to encrypt the response to.
    #[error("no response encryption key (ECDH-ES P-256 with a kid)")]
    NoEncryptionKey,
    /// `encrypted_response_enc_values_supported` names neither A128GCM nor A256GCM.
    #[error("no supported response content encryption (A128GCM, A256GCM)")]
    UnsupportedEnc,
    /// Building: signing failed.
    #[error("signing failed: {0}")]
    Sign(String),
}

impl RequestObjectError {
    /// The OpenID4VP error code the wallet reports (OpenID4VP 1.0 §8.5, IT-Wallet §5.1).
    pub fn oauth_code(&self) -> &'static str {
        match self {
            Self::Malformed(_) | Self::BadClaim { .. } | Self::WrongTyp(_) | Self::BadSignature | Self::Expired { .. } | Self::IssuedInFuture { .. } | Self::Time(_) => {
                "invalid_request_object"
            }
            Self::ClientIdMismatch { .. }
            | Self::ClientId(_)
            | Self::IssMismatch(_)
            | Self::MissingTrustChain
            | Self::EntityMismatch { .. }
            | Self::UntrustedChain(_)
            | Self::NoVerifierMetadata
            | Self::BadMetadata(_)
            | Self::UnknownKid(_)
            | Self::MissingX5c
            | Self::X509HashMismatch
            | Self::RootInChain
            | Self::NoX509Anchors
            | Self::Certificate(_)
            | Self::X5cKeyMismatch
            | Self::SanMismatch(_) => "invalid_client",
            Self::RequestUriNotRegistered(_) => "invalid_request_uri",
            Self::VpFormatsNotSupported(_) => "vp_formats_not_supported",
            Self::TransactionDataNotSupported(_) => "invalid_transaction_data",
            Self::Sign(_) => "server_error",
            _ => "invalid_request",
        }
    }
}
