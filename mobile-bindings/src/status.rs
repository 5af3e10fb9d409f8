//! The credentials' status refresh for the app (wallet-core's `WalletStatusRefresh`, issue 12
//! item 3): each stored credential's entry in its issuer's Token Status List, its `x5c`
//! against the CRLs it names (the anchor's root taken from the anchor and checked against its
//! keys), kept in the credential's metadata; an activated wallet re-issues the credentials
//! marked UPDATE/ATTRIBUTE_UPDATE with the refresh token it kept.

use std::sync::Arc;

use wallet_core::wallet::WalletStatusRefresh;
use wallet_core::wallet::status::{Reissued, StatusCheck, StatusReport};

use crate::activation::CoreHttp;
use crate::error::WalletError;
use crate::wallet::Wallet;

/// What a refresh found for one credential.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum CredentialStatus {
    /// Its issuer's list says this: `VALID`, `INVALID` (revoked), `SUSPENDED`, `UPDATE`, …
    Listed {
        /// The value's name.
        value: String,
    },
    /// The credential has no status list reference.
    NoStatus,
    /// Not established now (list unreachable or not verifiable, issuer not trusted): why.
    /// The last known value is kept.
    Unknown {
        /// Why.
        reason: String,
    },
    /// A certificate of its `x5c` is revoked (the issuer withdrew the key that signed it):
    /// verifiers refuse it; ask the issuer for a new one.
    IssuerCertificateRevoked {
        /// Which certificate, and when.
        reason: String,
    },
}

/// What a re-issuance gave.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum Reissue {
    /// Re-issued: the new credentials' ids (the old one removed).
    Done {
        /// The new credentials.
        credential_ids: Vec<String>,
    },
    /// Removed with another credential of its batch, re-issued there.
    WithBatch,
    /// The issuer deferred it.
    Deferred,
    /// Not re-issued: why (the old credential is kept).
    Failed {
        /// Why.
        reason: String,
    },
}

/// One credential's line of a refresh.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct CredentialStatusReport {
    /// The credential.
    pub credential_id: String,
    /// Its type.
    pub vct: String,
    /// Its issuer.
    pub issuer: String,
    /// What was found.
    pub status: CredentialStatus,
    /// Whether it differs from what was stored before.
    pub changed: bool,
    /// The re-issuance, for a credential its issuer marked for update.
    pub reissued: Option<Reissue>,
}

impl From<StatusReport> for CredentialStatusReport {
    fn from(r: StatusReport) -> Self {
        Self {
            credential_id: r.id.as_str().to_owned(),
            vct: r.vct,
            issuer: r.issuer,
            status: match r.check {
                StatusCheck::Value(v) => CredentialStatus::Listed { value: v.name().to_owned() },
                StatusCheck::NoStatus => CredentialStatus::NoStatus,
                StatusCheck::Unknown(reason) => CredentialStatus::Unknown { reason },
                StatusCheck::IssuerCertificateRevoked(reason) => CredentialStatus::IssuerCertificateRevoked { reason },
            },
            changed: r.changed,
            reissued: r.reissued.map(|re| match re {
                Reissued::Done(ids) => Reissue::Done { credential_ids: ids.iter().map(|i| i.as_str().to_owned()).collect() },
                Reissued::WithBatch => Reissue::WithBatch,
                Reissued::Deferred => Reissue::Deferred,
                Reissued::Failed(reason) => Reissue::Failed { reason },
            }),
        }
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl Wallet {
    /// Refreshes every stored credential's status over the app's HTTP client and keeps it
    /// (see the module documentation); re-issues what its issuer marked for update when the
    /// wallet is activated. One line per credential.
    pub async fn refresh_statuses(self: Arc<Self>) -> Result<Vec<CredentialStatusReport>, WalletError> {
        self.blocking(|w| {
            let http = w.http.clone().ok_or_else(|| WalletError::NotConfigured { what: "a status refresh needs an HTTP client".into() })?;
            let mut refresh = WalletStatusRefresh::new(Arc::new(CoreHttp(http)), w.store.clone(), w.anchors.clone()).with_anchor_roots();
            if let Ok((flow, _)) = w.issuance_flow() {
                refresh = refresh.with_reissuance(flow);
            }
            Ok(refresh.refresh()?.into_iter().map(CredentialStatusReport::from).collect())
        })
        .await
    }
}
