//! The wallet's credential store: one SQLite file, every credential encrypted with
//! AES-256-GCM under a key that a [`KeyProvider`] hands out (the phone's keystore on a phone,
//! a key file for the command-line wallet).
//!
//! * **Confidentiality and integrity.** The credential and its display metadata are sealed
//!   with a fresh 96-bit nonce; the associated data binds the ciphertext to its row (id,
//!   format, `vct`, issuer), so rows cannot be swapped or relabelled. `vct`, issuer and dates
//!   stay in clear for listing and `find_by_vct`: they describe the credential type, not the
//!   citizen.
//! * **Atomic writes.** Every change is one SQLite transaction in WAL mode with
//!   `synchronous = FULL`: a crash leaves the last committed state, never half a write
//!   (tested by killing a writer process).
//! * **Append-only log.** [`CredentialStore::log`] records what was shown to whom and when;
//!   triggers refuse UPDATE and DELETE on it, and its entries are encrypted like credentials.
//!   A presentation is logged before its response is sent (a crash after sending still leaves
//!   a record); what became of it is added once, afterwards, with
//!   [`CredentialStore::record_outcome`] (append-only too: the entry itself never changes).

mod crypto;
mod keys;
mod private_file;

pub use crypto::DataKey;
pub use keys::{FileKeyProvider, KeyError, KeyProvider, StaticKeyProvider};
pub use private_file::{ExclusiveLock, FileVersion, LOCK_WAIT, PrivateFileError, STALE_TEMPORARY, create_private, load_or_create_private, write_private};

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::time::UnixTime;

/// The schema version this code writes (`PRAGMA user_version`).
const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS credentials (
    id TEXT PRIMARY KEY,
    format TEXT NOT NULL,
    vct TEXT NOT NULL,
    issuer TEXT NOT NULL,
    issued_at INTEGER,
    expires_at INTEGER,
    created_at INTEGER NOT NULL,
    sealed BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS credentials_vct ON credentials(vct);
CREATE TABLE IF NOT EXISTS transactions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    counterparty TEXT NOT NULL,
    sealed BLOB NOT NULL
);
CREATE TRIGGER IF NOT EXISTS transactions_append_only_update BEFORE UPDATE ON transactions
    BEGIN SELECT RAISE(ABORT, 'the transaction log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS transactions_append_only_delete BEFORE DELETE ON transactions
    BEGIN SELECT RAISE(ABORT, 'the transaction log is append-only'); END;
CREATE TABLE IF NOT EXISTS transaction_outcomes (
    seq INTEGER PRIMARY KEY REFERENCES transactions(seq),
    at INTEGER NOT NULL,
    sealed BLOB NOT NULL
);
CREATE TRIGGER IF NOT EXISTS transaction_outcomes_append_only_update BEFORE UPDATE ON transaction_outcomes
    BEGIN SELECT RAISE(ABORT, 'the transaction log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS transaction_outcomes_append_only_delete BEFORE DELETE ON transaction_outcomes
    BEGIN SELECT RAISE(ABORT, 'the transaction log is append-only'); END;
CREATE TABLE IF NOT EXISTS refresh_grants (
    credential_id TEXT PRIMARY KEY REFERENCES credentials(id) ON DELETE CASCADE,
    sealed BLOB NOT NULL
);
";

/// A known plaintext sealed at creation: opening with another key fails up front.
const KEY_CHECK: &[u8] = b"tessera credential store v1";

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The key provider failed.
    #[error("key provider: {0}")]
    Key(#[from] KeyError),
    /// The store was created with another key.
    #[error("the store was created with another key")]
    WrongKey,
    /// A row does not decrypt: tampered, or moved from another row.
    #[error("credential {0} failed its integrity check (tampered or swapped)")]
    Tampered(String),
    /// No credential with this id.
    #[error("no credential with id {0}")]
    NotFound(String),
    /// The file was written by a newer version.
    #[error("store schema version {found} is newer than this version ({supported})")]
    UnsupportedSchema {
        /// Found in the file.
        found: i64,
        /// What this code supports.
        supported: i64,
    },
    /// SQLite failed.
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A sealed payload did not parse after decryption.
    #[error("corrupt payload: {0}")]
    Corrupt(String),
}

/// A credential's id in the store: 128 random bits, hex.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CredentialId(String);

impl CredentialId {
    fn generate() -> Result<Self, StoreError> {
        let mut b = [0u8; 16];
        getrandom::fill(&mut b).map_err(|e| KeyError::Unavailable(e.to_string()))?;
        Ok(Self(b.iter().map(|x| format!("{x:02x}")).collect()))
    }

    /// Parses an id given back by the app.
    pub fn parse(s: &str) -> Option<Self> {
        (s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())).then(|| Self(s.to_ascii_lowercase()))
    }

    /// The hex text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for CredentialId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A credential to store.
#[derive(Debug, Clone)]
pub struct NewCredential {
    /// `dc+sd-jwt` or `mso_mdoc`.
    pub format: String,
    /// The credential type.
    pub vct: String,
    /// The issuer's entity id.
    pub issuer: String,
    /// `iat`.
    pub issued_at: Option<UnixTime>,
    /// `exp`.
    pub expires_at: Option<UnixTime>,
    /// The credential as issued (the SD-JWT with all disclosures).
    pub credential: String,
    /// Display metadata (labels, issuer name and logo), encrypted with it.
    pub metadata: Value,
}

/// What `list` shows without decrypting anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialSummary {
    /// Id.
    pub id: CredentialId,
    /// Format.
    pub format: String,
    /// Type.
    pub vct: String,
    /// Issuer.
    pub issuer: String,
    /// `iat`.
    pub issued_at: Option<UnixTime>,
    /// `exp`.
    pub expires_at: Option<UnixTime>,
    /// When it was stored (or last replaced).
    pub stored_at: UnixTime,
}

/// A decrypted credential.
#[derive(Debug, Clone)]
pub struct StoredCredential {
    /// The clear columns.
    pub summary: CredentialSummary,
    /// The credential.
    pub credential: String,
    /// Display metadata.
    pub metadata: Value,
}

#[derive(Serialize, Deserialize)]
struct SealedCredential {
    credential: String,
    metadata: Value,
}

/// What a log entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransactionKind {
    /// A credential was issued to the wallet.
    Issuance,
    /// Claims were presented to a relying party.
    Presentation,
    /// A credential was deleted.
    Deletion,
    /// The citizen declined a relying party's request: nothing was disclosed, the refusal
    /// (`access_denied`) was sent.
    Declined,
    /// The wallet refused a relying party's request before the citizen was asked: its
    /// `request_uri` answered an error, or the request broke a rule. Nothing was disclosed;
    /// the entry's outcome says why in full (IT-Wallet 1.4 §5.1, WP_089a).
    Refused,
}

impl TransactionKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Issuance => "issuance",
            Self::Presentation => "presentation",
            Self::Deletion => "deletion",
            Self::Declined => "declined",
            Self::Refused => "refused",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "issuance" => Some(Self::Issuance),
            "presentation" => Some(Self::Presentation),
            "deletion" => Some(Self::Deletion),
            "declined" => Some(Self::Declined),
            "refused" => Some(Self::Refused),
            _ => None,
        }
    }
}

/// A log entry to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTransaction {
    /// When.
    pub at: UnixTime,
    /// What happened.
    pub kind: TransactionKind,
    /// The other party (relying party or issuer entity id).
    pub counterparty: String,
    /// The credentials involved.
    pub credential_ids: Vec<CredentialId>,
    /// The claims disclosed (paths), for presentations.
    pub claims: Vec<String>,
}

/// A log entry as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transaction {
    /// Position in the log, increasing.
    pub seq: i64,
    /// The entry.
    pub entry: NewTransaction,
}

/// What became of a logged exchange once it was sent (recorded once, after the entry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum TransactionOutcome {
    /// The counterparty accepted it.
    Accepted,
    /// The counterparty answered with an error (OAuth `error`, `error_description`).
    Refused {
        /// The `error` code.
        error: String,
        /// The `error_description`.
        description: Option<String>,
    },
    /// It could not be delivered, or the answer could not be read.
    Failed {
        /// Why.
        reason: String,
    },
    /// The wallet refused what the counterparty sent (a [`TransactionKind::Refused`] request):
    /// the rule it broke.
    Rejected {
        /// Why.
        reason: String,
    },
}

#[derive(Serialize, Deserialize)]
struct SealedTransaction {
    credential_ids: Vec<CredentialId>,
    claims: Vec<String>,
}

/// The encrypted credential store.
pub struct CredentialStore {
    conn: Mutex<Connection>,
    key: DataKey,
}

impl std::fmt::Debug for CredentialStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialStore").finish_non_exhaustive()
    }
}

fn refresh_grant_aad(id: &str) -> Vec<u8> {
    format!("tessera/refresh-grant/{id}").into_bytes()
}

fn credential_aad(id: &str, format: &str, vct: &str, issuer: &str) -> Vec<u8> {
    // Length-prefixed, so that no two different rows give the same bytes.
    let mut aad = b"tessera/credential/v1".to_vec();
    for part in [id, format, vct, issuer] {
        aad.extend_from_slice(&(part.len() as u64).to_be_bytes());
        aad.extend_from_slice(part.as_bytes());
    }
    aad
}

fn outcome_aad(seq: i64, at: i64) -> Vec<u8> {
    let mut aad = b"tessera/log-outcome/v1".to_vec();
    aad.extend_from_slice(&seq.to_be_bytes());
    aad.extend_from_slice(&at.to_be_bytes());
    aad
}

fn log_aad(at: i64, kind: &str, counterparty: &str) -> Vec<u8> {
    let mut aad = b"tessera/log/v1".to_vec();
    aad.extend_from_slice(&at.to_be_bytes());
    for part in [kind, counterparty] {
        aad.extend_from_slice(&(part.len() as u64).to_be_bytes());
        aad.extend_from_slice(part.as_bytes());
    }
    aad
}

/// The clear columns `id, format, vct, issuer, issued_at, expires_at, created_at` (0..=6).
fn summary_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CredentialSummary> {
    Ok(CredentialSummary {
        id: CredentialId(r.get(0)?),
        format: r.get(1)?,
        vct: r.get(2)?,
        issuer: r.get(3)?,
        issued_at: r.get::<_, Option<i64>>(4)?.map(UnixTime),
        expires_at: r.get::<_, Option<i64>>(5)?.map(UnixTime),
        stored_at: UnixTime(r.get(6)?),
    })
}

impl CredentialStore {
    /// Opens (creating if needed) the store at `path`, with the key from `keys`.
    pub fn open(path: impl AsRef<Path>, keys: &dyn KeyProvider) -> Result<Self, StoreError> {
        let key = keys.data_key()?;
        let mut conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::UnsupportedSchema { found: version, supported: SCHEMA_VERSION });
        }
        let tx = conn.transaction()?;
        tx.execute_batch(SCHEMA)?;
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        let check: Option<Vec<u8>> = tx.query_row("SELECT v FROM meta WHERE k = 'key_check'", [], |r| r.get(0)).optional()?;
        match check {
            Some(sealed) => {
                let plain = key.open(&sealed, b"tessera/key-check").map_err(|_| StoreError::WrongKey)?;
                if plain.as_slice() != KEY_CHECK {
                    return Err(StoreError::WrongKey);
                }
            }
            None => {
                let sealed = key.seal(KEY_CHECK, b"tessera/key-check")?;
                tx.execute("INSERT INTO meta (k, v) VALUES ('key_check', ?1)", params![sealed])?;
            }
        }
        tx.commit()?;
        Ok(Self { conn: Mutex::new(conn), key })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn seal_credential(&self, id: &CredentialId, c: &NewCredential) -> Result<Vec<u8>, StoreError> {
        let plain = serde_json::to_vec(&SealedCredential { credential: c.credential.clone(), metadata: c.metadata.clone() })
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let plain = zeroize::Zeroizing::new(plain);
        Ok(self.key.seal(&plain, &credential_aad(id.as_str(), &c.format, &c.vct, &c.issuer))?)
    }

    /// Stores a new credential; returns its id.
    pub fn put(&self, c: &NewCredential, now: UnixTime) -> Result<CredentialId, StoreError> {
        let id = CredentialId::generate()?;
        let sealed = self.seal_credential(&id, c)?;
        self.conn().execute(
            "INSERT INTO credentials (id, format, vct, issuer, issued_at, expires_at, created_at, sealed)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![id.as_str(), c.format, c.vct, c.issuer, c.issued_at.map(UnixTime::secs), c.expires_at.map(UnixTime::secs), now.secs(), sealed],
        )?;
        Ok(id)
    }

    /// Replaces a credential in one transaction (re-issuance): the old version stays intact
    /// until the new one is committed.
    pub fn replace(&self, id: &CredentialId, c: &NewCredential, now: UnixTime) -> Result<(), StoreError> {
        let sealed = self.seal_credential(id, c)?;
        let n = self.conn().execute(
            "UPDATE credentials SET format = ?2, vct = ?3, issuer = ?4, issued_at = ?5, expires_at = ?6, created_at = ?7, sealed = ?8
             WHERE id = ?1",
            params![id.as_str(), c.format, c.vct, c.issuer, c.issued_at.map(UnixTime::secs), c.expires_at.map(UnixTime::secs), now.secs(), sealed],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound(id.to_string()));
        }
        Ok(())
    }

    fn summaries(&self, filter_vct: Option<&str>) -> Result<Vec<CredentialSummary>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT id, format, vct, issuer, issued_at, expires_at, created_at FROM credentials
             WHERE ?1 IS NULL OR vct = ?1 ORDER BY created_at, id",
        )?;
        let rows = stmt.query_map(params![filter_vct], summary_from_row)?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Every credential, oldest first, without decrypting.
    pub fn list(&self) -> Result<Vec<CredentialSummary>, StoreError> {
        self.summaries(None)
    }

    /// The credentials of one type.
    pub fn find_by_vct(&self, vct: &str) -> Result<Vec<CredentialSummary>, StoreError> {
        self.summaries(Some(vct))
    }

    /// A credential, decrypted and checked against its row.
    pub fn get(&self, id: &CredentialId) -> Result<StoredCredential, StoreError> {
        let row = self
            .conn()
            .query_row(
                "SELECT id, format, vct, issuer, issued_at, expires_at, created_at, sealed FROM credentials WHERE id = ?1",
                params![id.as_str()],
                |r| Ok((summary_from_row(r)?, r.get::<_, Vec<u8>>(7)?)),
            )
            .optional()?;
        let (summary, sealed) = row.ok_or_else(|| StoreError::NotFound(id.to_string()))?;
        let aad = credential_aad(summary.id.as_str(), &summary.format, &summary.vct, &summary.issuer);
        let plain = self.key.open(&sealed, &aad).map_err(|_| StoreError::Tampered(id.to_string()))?;
        let s: SealedCredential = serde_json::from_slice(&plain).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok(StoredCredential { summary, credential: s.credential, metadata: s.metadata })
    }

    /// Deletes a credential.
    pub fn delete(&self, id: &CredentialId) -> Result<(), StoreError> {
        let n = self.conn().execute("DELETE FROM credentials WHERE id = ?1", params![id.as_str()])?;
        if n == 0 {
            return Err(StoreError::NotFound(id.to_string()));
        }
        Ok(())
    }

    /// Keeps the secret that lets the wallet re-issue credential `id` (its refresh token and
    /// DPoP key, IT-Wallet 1.4 §3.3 "Refresh"), sealed like credentials (AAD bound to the
    /// id); replaces any earlier one. Deleted with the credential.
    pub fn put_refresh_grant(&self, id: &CredentialId, grant: &serde_json::Value) -> Result<(), StoreError> {
        let plain = zeroize::Zeroizing::new(serde_json::to_vec(grant).map_err(|e| StoreError::Corrupt(e.to_string()))?);
        let sealed = self.key.seal(&plain, &refresh_grant_aad(id.as_str()))?;
        self.conn().execute(
            "INSERT INTO refresh_grants (credential_id, sealed) VALUES (?1, ?2) ON CONFLICT(credential_id) DO UPDATE SET sealed = excluded.sealed",
            params![id.as_str(), sealed],
        )?;
        Ok(())
    }

    /// The re-issuance secret of credential `id`, if one was kept.
    pub fn refresh_grant(&self, id: &CredentialId) -> Result<Option<serde_json::Value>, StoreError> {
        let sealed: Option<Vec<u8>> =
            self.conn().query_row("SELECT sealed FROM refresh_grants WHERE credential_id = ?1", params![id.as_str()], |r| r.get(0)).optional()?;
        let Some(sealed) = sealed else { return Ok(None) };
        let plain = zeroize::Zeroizing::new(self.key.open(&sealed, &refresh_grant_aad(id.as_str())).map_err(|_| StoreError::Tampered(format!("refresh grant of {id}")))?);
        serde_json::from_slice(&plain).map(Some).map_err(|e| StoreError::Corrupt(e.to_string()))
    }

    /// Appends an entry to the transaction log.
    pub fn log(&self, t: &NewTransaction) -> Result<i64, StoreError> {
        let sealed = self.seal_entry(t)?;
        let conn = self.conn();
        conn.execute(
            "INSERT INTO transactions (at, kind, counterparty, sealed) VALUES (?1, ?2, ?3, ?4)",
            params![t.at.secs(), t.kind.as_str(), t.counterparty, sealed],
        )?;
        Ok(conn.last_insert_rowid())
    }

    /// Appends an entry whose outcome is known at once (a refused request, WP_089a), both in
    /// one database transaction: never an entry without its why.
    pub fn log_with_outcome(&self, t: &NewTransaction, outcome: &TransactionOutcome) -> Result<i64, StoreError> {
        let sealed = self.seal_entry(t)?;
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO transactions (at, kind, counterparty, sealed) VALUES (?1, ?2, ?3, ?4)",
            params![t.at.secs(), t.kind.as_str(), t.counterparty, sealed],
        )?;
        let seq = tx.last_insert_rowid();
        let sealed_outcome = self.seal_outcome(seq, t.at, outcome)?;
        tx.execute("INSERT INTO transaction_outcomes (seq, at, sealed) VALUES (?1, ?2, ?3)", params![seq, t.at.secs(), sealed_outcome])?;
        tx.commit()?;
        Ok(seq)
    }

    /// The log, oldest first.
    pub fn transactions(&self) -> Result<Vec<Transaction>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT seq, at, kind, counterparty, sealed FROM transactions ORDER BY seq")?;
        let rows = stmt.query_map([], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?, r.get::<_, Vec<u8>>(4)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, at, kind, counterparty, sealed) = row?;
            let plain = self.key.open(&sealed, &log_aad(at, &kind, &counterparty)).map_err(|_| StoreError::Tampered(format!("log entry {seq}")))?;
            let s: SealedTransaction = serde_json::from_slice(&plain).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let kind = TransactionKind::parse(&kind).ok_or_else(|| StoreError::Corrupt(format!("log entry {seq}: kind `{kind}`")))?;
            out.push(Transaction {
                seq,
                entry: NewTransaction { at: UnixTime(at), kind, counterparty, credential_ids: s.credential_ids, claims: s.claims },
            });
        }
        Ok(out)
    }

    /// Records what became of log entry `seq` (once: a second outcome, or one for an entry
    /// that does not exist, is refused by the database).
    pub fn record_outcome(&self, seq: i64, at: UnixTime, outcome: &TransactionOutcome) -> Result<(), StoreError> {
        let sealed = self.seal_outcome(seq, at, outcome)?;
        self.conn().execute("INSERT INTO transaction_outcomes (seq, at, sealed) VALUES (?1, ?2, ?3)", params![seq, at.secs(), sealed])?;
        Ok(())
    }

    /// A log entry's private part, sealed to its clear columns.
    fn seal_entry(&self, t: &NewTransaction) -> Result<Vec<u8>, StoreError> {
        let plain = serde_json::to_vec(&SealedTransaction { credential_ids: t.credential_ids.clone(), claims: t.claims.clone() })
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok(self.key.seal(&plain, &log_aad(t.at.secs(), t.kind.as_str(), &t.counterparty))?)
    }

    /// An outcome, sealed to its entry and time.
    fn seal_outcome(&self, seq: i64, at: UnixTime, outcome: &TransactionOutcome) -> Result<Vec<u8>, StoreError> {
        let plain = serde_json::to_vec(outcome).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok(self.key.seal(&plain, &outcome_aad(seq, at.secs()))?)
    }

    /// The recorded outcomes by log sequence number, with when each was recorded.
    pub fn outcomes(&self) -> Result<std::collections::BTreeMap<i64, (UnixTime, TransactionOutcome)>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT seq, at, sealed FROM transaction_outcomes ORDER BY seq")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, Vec<u8>>(2)?)))?;
        let mut out = std::collections::BTreeMap::new();
        for row in rows {
            let (seq, at, sealed) = row?;
            let plain = self.key.open(&sealed, &outcome_aad(seq, at)).map_err(|_| StoreError::Tampered(format!("log outcome {seq}")))?;
            let o: TransactionOutcome = serde_json::from_slice(&plain).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            out.insert(seq, (UnixTime(at), o));
        }
        Ok(out)
    }

    /// `PRAGMA integrity_check` (after a crash, or in diagnostics).
    pub fn integrity_check(&self) -> Result<bool, StoreError> {
        let r: String = self.conn().query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        Ok(r == "ok")
    }
}

#[cfg(test)]
mod tests;
