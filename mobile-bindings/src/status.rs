//! The credentials' status refresh for the app (wallet-core's `WalletStatusRefresh`, issue 12
//! item 3): each stored credential's entry in its issuer's Token Status List, its `x5c`
//! against the CRLs it names (the anchor's root taken from the anchor and checked against its
//! keys), kept in the credential's metadata; an activated wallet re-issues the credentials
//! marked UPDATE/ATTRIBUTE_UPDATE with the refresh token it kept. A re-issued credential
//! that changes the citizen's attributes is stored only when the app's
//! [`AttributeUpdateConsent`] says yes (IT-Wallet 1.4 §6, WP_074); one that changes only
//! metadata is stored without asking (WP_075).

use std::sync::Arc;

use wallet_core::wallet::WalletStatusRefresh;
use wallet_core::wallet::status::{Reissued, StatusCheck, StatusReport};
use wallet_core::wallet::update as core_update;

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
    /// Not stored: it changes the citizen's attributes and the app's consent said no (or
    /// none was given). The old credential is kept; its issuer may have withdrawn it.
    Declined {
        /// What would have changed.
        update: AttributeUpdate,
    },
}

/// One attribute that differs in a re-issued credential.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AttributeChange {
    /// The attribute (top-level claim name; a structured one is compared whole).
    pub name: String,
    /// Its value in the credential held, as JSON text; `None` when the new one adds it.
    pub before: Option<String>,
    /// Its value in the re-issued credential, as JSON text; `None` when it is dropped.
    pub after: Option<String>,
}

/// A re-issuance that changes the citizen's attributes: what to show them.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AttributeUpdate {
    /// The credential held that would be replaced (with the rest of its batch).
    pub replaces_credential_id: String,
    /// Its type.
    pub vct: String,
    /// The issuer's entity id.
    pub issuer: String,
    /// The issuer's display name.
    pub issuer_name: Option<String>,
    /// Every attribute that differs.
    pub changes: Vec<AttributeChange>,
}

impl From<core_update::AttributeUpdate> for AttributeUpdate {
    fn from(u: core_update::AttributeUpdate) -> Self {
        let text = |v: Option<serde_json::Value>| v.map(|v| v.to_string());
        Self {
            replaces_credential_id: u.replaces.as_str().to_owned(),
            vct: u.vct,
            issuer: u.issuer,
            issuer_name: u.issuer_name,
            changes: u.changes.into_iter().map(|c| AttributeChange { name: c.name, before: text(c.before), after: text(c.after) }).collect(),
        }
    }
}

/// The app asks the citizen whether to store a re-issued credential whose attributes
/// changed; called during [`Wallet::refresh_statuses_with_consent`], after every check of the
/// new credential passed and before anything is stored.
#[uniffi::export(with_foreign)]
pub trait AttributeUpdateConsent: Send + Sync {
    /// `true` to store the new credential (the one held is removed), `false` to keep it.
    fn approve(&self, update: AttributeUpdate) -> bool;
}

/// wallet-core's consent seam over the app's.
struct ForeignUpdateConsent(Arc<dyn AttributeUpdateConsent>);

impl core_update::UpdateConsent for ForeignUpdateConsent {
    fn approve(&self, update: &core_update::AttributeUpdate) -> bool {
        self.0.approve(update.clone().into())
    }
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
                Reissued::Declined(update) => Reissue::Declined { update: (*update).into() },
            }),
        }
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl Wallet {
    /// Refreshes every stored credential's status over the app's HTTP client and keeps it
    /// (see the module documentation); re-issues what its issuer marked for update when the
    /// wallet is activated, storing without asking only what changes no attribute of the
    /// citizen ([`Reissue::Declined`] for the rest: use
    /// [`Wallet::refresh_statuses_with_consent`] to ask). One line per credential.
    pub async fn refresh_statuses(self: Arc<Self>) -> Result<Vec<CredentialStatusReport>, WalletError> {
        self.refresh(None).await
    }

    /// [`Wallet::refresh_statuses`], asking `consent` before a re-issued credential that
    /// changes the citizen's attributes is stored (IT-Wallet 1.4 §6, WP_074).
    pub async fn refresh_statuses_with_consent(self: Arc<Self>, consent: Arc<dyn AttributeUpdateConsent>) -> Result<Vec<CredentialStatusReport>, WalletError> {
        self.refresh(Some(consent)).await
    }
}

impl Wallet {
    async fn refresh(self: Arc<Self>, consent: Option<Arc<dyn AttributeUpdateConsent>>) -> Result<Vec<CredentialStatusReport>, WalletError> {
        self.blocking(move |w| {
            let http = w.http.clone().ok_or_else(|| WalletError::NotConfigured { what: "a status refresh needs an HTTP client".into() })?;
            let mut refresh = WalletStatusRefresh::new(Arc::new(CoreHttp(http)), w.store.clone(), w.anchors.clone()).with_anchor_roots();
            if let Ok((flow, _)) = w.issuance_core() {
                let flow = match consent {
                    Some(c) => flow.with_update_consent(Arc::new(ForeignUpdateConsent(c))),
                    None => flow,
                };
                refresh = refresh.with_reissuance(Arc::new(flow));
            }
            Ok(refresh.refresh()?.into_iter().map(CredentialStatusReport::from).collect())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use serde_json::json;
    use wallet_core::store::CredentialId;
    use wallet_core::wallet::update::{AttributeUpdate as CoreUpdate, ClaimChange, UpdateConsent};

    use super::*;

    struct Answer(bool, Mutex<Vec<AttributeUpdate>>);

    impl AttributeUpdateConsent for Answer {
        fn approve(&self, update: AttributeUpdate) -> bool {
            self.1.lock().unwrap().push(update);
            self.0
        }
    }

    /// The app sees each change as JSON text and its answer is wallet-core's.
    #[test]
    fn the_apps_answer_decides_and_it_sees_each_change() {
        let id = CredentialId::parse("0123456789abcdef0123456789abcdef").unwrap();
        let update = CoreUpdate {
            replaces: id,
            vct: "urn:eudi:mDL:it:1".into(),
            issuer: "https://motorizzazione.example".into(),
            issuer_name: Some("Motorizzazione".into()),
            changes: vec![
                ClaimChange { name: "expiry_date".into(), before: Some(json!("2031-06-10")), after: Some(json!("2040-01-31")) },
                ClaimChange { name: "restrictions_conditions".into(), before: None, after: Some(json!(["01.06"])) },
            ],
        };
        for answer in [true, false] {
            let app = Arc::new(Answer(answer, Mutex::new(Vec::new())));
            assert_eq!(ForeignUpdateConsent(app.clone()).approve(&update), answer);
            let seen = app.1.lock().unwrap().clone();
            assert_eq!(seen.len(), 1);
            assert_eq!(seen[0].replaces_credential_id, "0123456789abcdef0123456789abcdef");
            assert_eq!(
                seen[0].changes,
                [
                    AttributeChange { name: "expiry_date".into(), before: Some("\"2031-06-10\"".into()), after: Some("\"2040-01-31\"".into()) },
                    AttributeChange { name: "restrictions_conditions".into(), before: None, after: Some(r#"["01.06"]"#.into()) },
                ]
            );
        }
        let line = CredentialStatusReport::from(StatusReport {
            id: CredentialId::parse("0123456789abcdef0123456789abcdef").unwrap(),
            vct: update.vct.clone(),
            issuer: update.issuer.clone(),
            check: StatusCheck::Value(wallet_core::status::StatusValue::AttributeUpdate),
            changed: true,
            reissued: Some(Reissued::Declined(Box::new(update))),
        });
        assert!(matches!(line.reissued, Some(Reissue::Declined { update }) if update.changes.len() == 2));
    }
}
