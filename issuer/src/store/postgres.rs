//! The PostgreSQL backend (`service_kit::pg`: tokio-postgres without TLS, so the database runs
//! on a private network or loopback), for replicas that share their state: tables `issuer_*`
//! (one issuer per database or schema: two issuers would share offers and status slots).
//!
//! The store's API is synchronous (as SQLite's): each call runs on the store's own runtime
//! thread, which holds one connection shared by every call, and the caller waits for its
//! answer. The connection being shared, no call opens a transaction of several statements:
//! every single-use value is consumed by one guarded statement (an `UPDATE ... WHERE NOT
//! used ... RETURNING`, an `INSERT ... ON CONFLICT DO NOTHING` on the primary key), so that
//! of two replicas racing for it, exactly one gets it; the credentials of one response are
//! recorded by one `INSERT ... SELECT FROM UNNEST(...)`, all or none.

use std::future::Future;
use std::sync::Arc;

use service_kit::pg::{Client, Pg, Row};

use super::{Deferred, Grant, Issued, Offer, STATUS_DRAWS, Spend, Spent, StatusVersion, StoreError, Target, draw, json, list, status_space};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS issuer_offers (code_hash TEXT PRIMARY KEY, tx_code TEXT, citizen TEXT NOT NULL, configurations TEXT NOT NULL,
    expires_at BIGINT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, used BOOLEAN NOT NULL DEFAULT FALSE);
CREATE TABLE IF NOT EXISTS issuer_grants (id TEXT PRIMARY KEY, citizen TEXT NOT NULL, configurations TEXT NOT NULL, expires_at BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS issuer_nonces (nonce TEXT PRIMARY KEY, expires_at BIGINT NOT NULL, used BOOLEAN NOT NULL DEFAULT FALSE);
CREATE TABLE IF NOT EXISTS issuer_jtis (jti TEXT PRIMARY KEY, expires_at BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS issuer_status_slots (idx BIGINT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS issuer_grant_wuas (grant_id TEXT NOT NULL, list_uri TEXT NOT NULL, idx BIGINT NOT NULL, expires_at BIGINT NOT NULL,
    PRIMARY KEY (grant_id, list_uri, idx));
CREATE TABLE IF NOT EXISTS issuer_issued (id TEXT PRIMARY KEY, grant_id TEXT NOT NULL, citizen TEXT NOT NULL, configuration_id TEXT NOT NULL,
    status_idx BIGINT NOT NULL UNIQUE, status SMALLINT NOT NULL DEFAULT 0, notification_id TEXT NOT NULL, issued_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL, notified TEXT);
ALTER TABLE issuer_issued ADD COLUMN IF NOT EXISTS claim TEXT;
ALTER TABLE issuer_issued ADD COLUMN IF NOT EXISTS claim_until BIGINT;
CREATE INDEX IF NOT EXISTS issuer_issued_citizen ON issuer_issued(citizen);
CREATE INDEX IF NOT EXISTS issuer_issued_notification ON issuer_issued(notification_id);
CREATE TABLE IF NOT EXISTS issuer_pushed (request_uri_hash TEXT PRIMARY KEY, client_id TEXT NOT NULL, request TEXT NOT NULL,
    expires_at BIGINT NOT NULL, used BOOLEAN NOT NULL DEFAULT FALSE);
CREATE TABLE IF NOT EXISTS issuer_logins (id_hash TEXT PRIMARY KEY, request TEXT NOT NULL, expires_at BIGINT NOT NULL,
    fetched BOOLEAN NOT NULL DEFAULT FALSE, used BOOLEAN NOT NULL DEFAULT FALSE);
CREATE TABLE IF NOT EXISTS issuer_states (state_hash TEXT PRIMARY KEY, offer TEXT NOT NULL, expires_at BIGINT NOT NULL, used BOOLEAN NOT NULL DEFAULT FALSE);
CREATE TABLE IF NOT EXISTS issuer_codes (code_hash TEXT PRIMARY KEY, code TEXT NOT NULL, expires_at BIGINT NOT NULL, used BOOLEAN NOT NULL DEFAULT FALSE);
CREATE TABLE IF NOT EXISTS issuer_deferred (transaction_id TEXT PRIMARY KEY, grant_id TEXT NOT NULL, configuration_id TEXT NOT NULL,
    keys TEXT NOT NULL, expires_at BIGINT NOT NULL, used BOOLEAN NOT NULL DEFAULT FALSE);
CREATE INDEX IF NOT EXISTS issuer_issued_nonzero ON issuer_issued(status_idx) INCLUDE (status) WHERE status != 0;
CREATE TABLE IF NOT EXISTS issuer_status_version (id SMALLINT PRIMARY KEY CHECK (id = 1), version BIGINT NOT NULL);
INSERT INTO issuer_status_version (id, version) VALUES (1, 0) ON CONFLICT DO NOTHING;
CREATE OR REPLACE FUNCTION issuer_status_bump() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN UPDATE issuer_status_version SET version = version + 1 WHERE id = 1; RETURN NULL; END $$;
CREATE OR REPLACE TRIGGER issuer_issued_status_changed AFTER UPDATE OF status ON issuer_issued
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION issuer_status_bump();
CREATE OR REPLACE TRIGGER issuer_issued_status_inserted AFTER INSERT ON issuer_issued
    FOR EACH ROW WHEN (NEW.status != 0) EXECUTE FUNCTION issuer_status_bump();
CREATE TABLE IF NOT EXISTS issuer_status_slot_count (shard SMALLINT PRIMARY KEY, n BIGINT NOT NULL);
INSERT INTO issuer_status_slot_count (shard, n)
    SELECT s, (SELECT COUNT(*) FROM issuer_status_slots WHERE idx % 16 = s) FROM generate_series(0, 15) AS s
    WHERE NOT EXISTS (SELECT 1 FROM issuer_status_slot_count) ON CONFLICT DO NOTHING;
CREATE OR REPLACE FUNCTION issuer_status_slot_counted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN UPDATE issuer_status_slot_count SET n = n + 1 WHERE shard = NEW.idx % 16;
        ELSE UPDATE issuer_status_slot_count SET n = n - 1 WHERE shard = OLD.idx % 16; END IF;
        RETURN NULL;
    END $$;
CREATE OR REPLACE TRIGGER issuer_status_slot_counted AFTER INSERT OR DELETE ON issuer_status_slots
    FOR EACH ROW EXECUTE FUNCTION issuer_status_slot_counted();
";

/// The tables purged of expired rows.
const EXPIRING: [&str; 10] = [
    "issuer_offers",
    "issuer_nonces",
    "issuer_jtis",
    "issuer_grants",
    "issuer_deferred",
    "issuer_pushed",
    "issuer_logins",
    "issuer_codes",
    "issuer_states",
    "issuer_grant_wuas",
];

fn idx_sql(idx: u64) -> Result<i64, StoreError> {
    i64::try_from(idx).map_err(|e| StoreError::Corrupt(format!("status index: {e}")))
}

fn idx_of(v: i64) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|e| StoreError::Corrupt(format!("status index: {e}")))
}

fn status_of(v: i16) -> Result<u8, StoreError> {
    u8::try_from(v).map_err(|e| StoreError::Corrupt(format!("status: {e}")))
}

fn issued(r: &Row) -> Result<Issued, StoreError> {
    Ok(Issued {
        id: r.try_get(0)?,
        grant_id: r.try_get(1)?,
        citizen: r.try_get(2)?,
        configuration_id: r.try_get(3)?,
        status_idx: idx_of(r.try_get(4)?)?,
        status: status_of(r.try_get(5)?)?,
        notification_id: r.try_get(6)?,
        issued_at: r.try_get(7)?,
        expires_at: r.try_get(8)?,
        notified: r.try_get(9)?,
    })
}

/// The database.
pub(super) struct Postgres {
    db: Pg,
}

impl Postgres {
    pub(super) fn new(url: &str) -> Result<Self, StoreError> {
        Ok(Self { db: Pg::new(url, "tessera-issuer", SCHEMA)? })
    }

    /// Runs `f` with the client on the store's runtime and waits for its answer.
    fn run<T, F, Fut>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(Arc<Client>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, StoreError>> + Send + 'static,
    {
        self.db.run(f)
    }

    /// One statement; how many rows it changed.
    fn execute(&self, sql: &'static str, args: Args) -> Result<u64, StoreError> {
        self.run(move |c| async move { Ok(c.execute(sql, &args.refs()).await?) })
    }

    /// One statement returning at most one text column of one row.
    fn text(&self, sql: &'static str, args: Args) -> Result<Option<String>, StoreError> {
        self.run(move |c| async move { Ok(c.query_opt(sql, &args.refs()).await?.map(|r| r.try_get(0)).transpose()?) })
    }

    pub(super) fn ping(&self) -> Result<(), StoreError> {
        Ok(self.db.ping()?)
    }

    pub(super) fn insert_offer(&self, code_hash: &str, offer: &Offer, expires_at: i64) -> Result<(), StoreError> {
        let args = Args::new().s(code_hash).o(offer.tx_code_hash.as_deref()).s(&offer.citizen).s(&json(&offer.configurations)).i(expires_at);
        self.execute("INSERT INTO issuer_offers (code_hash, tx_code, citizen, configurations, expires_at) VALUES ($1, $2, $3, $4, $5)", args)?;
        Ok(())
    }

    pub(super) fn attempt_offer(&self, code_hash: &str, now: i64, max_attempts: u32) -> Result<Option<Offer>, StoreError> {
        let (code_hash, max) = (code_hash.to_owned(), i32::try_from(max_attempts).unwrap_or(i32::MAX));
        let row = self.run(move |c| async move {
            let r = c
                .query_opt(
                    "UPDATE issuer_offers SET attempts = attempts + 1 WHERE code_hash = $1 AND NOT used AND expires_at > $2 AND attempts < $3
                     RETURNING tx_code, citizen, configurations",
                    &[&code_hash, &now, &max],
                )
                .await?;
            r.map(|r| Ok((r.try_get::<_, Option<String>>(0)?, r.try_get::<_, String>(1)?, r.try_get::<_, String>(2)?))).transpose()
        })?;
        row.map(|(tx_code_hash, citizen, c)| Ok(Offer { tx_code_hash, citizen, configurations: list(&c)? })).transpose()
    }

    pub(super) fn pending_offer(&self, code_hash: &str, now: i64, max_attempts: u32) -> Result<Option<Offer>, StoreError> {
        let (code_hash, max) = (code_hash.to_owned(), i32::try_from(max_attempts).unwrap_or(i32::MAX));
        let row = self.run(move |c| async move {
            let r = c.query_opt("SELECT tx_code, citizen, configurations FROM issuer_offers WHERE code_hash = $1 AND NOT used AND expires_at > $2 AND attempts < $3", &[&code_hash, &now, &max]).await?;
            r.map(|r| Ok((r.try_get::<_, Option<String>>(0)?, r.try_get::<_, String>(1)?, r.try_get::<_, String>(2)?))).transpose()
        })?;
        row.map(|(tx_code_hash, citizen, c)| Ok(Offer { tx_code_hash, citizen, configurations: list(&c)? })).transpose()
    }

    pub(super) fn consume_offer(&self, code_hash: &str) -> Result<bool, StoreError> {
        Ok(self.execute("UPDATE issuer_offers SET used = TRUE WHERE code_hash = $1 AND NOT used", Args::new().s(code_hash))? == 1)
    }

    pub(super) fn insert_grant(&self, id: &str, grant: &Grant, expires_at: i64) -> Result<(), StoreError> {
        let args = Args::new().s(id).s(&grant.citizen).s(&json(&grant.configurations)).i(expires_at);
        self.execute("INSERT INTO issuer_grants (id, citizen, configurations, expires_at) VALUES ($1, $2, $3, $4)", args)?;
        Ok(())
    }

    pub(super) fn grant(&self, id: &str) -> Result<Option<(Grant, i64)>, StoreError> {
        let id = id.to_owned();
        let row = self.run(move |c| async move {
            let r = c.query_opt("SELECT citizen, configurations, expires_at FROM issuer_grants WHERE id = $1", &[&id]).await?;
            r.map(|r| Ok((r.try_get::<_, String>(0)?, r.try_get::<_, String>(1)?, r.try_get::<_, i64>(2)?))).transpose()
        })?;
        row.map(|(citizen, c, expires_at)| Ok((Grant { citizen, configurations: list(&c)? }, expires_at))).transpose()
    }

    /// One statement for all of them (`UNNEST`): recorded all or none.
    pub(super) fn record_wuas(&self, records: &[super::WuaRecord]) -> Result<(), StoreError> {
        let grants: Vec<String> = records.iter().map(|r| r.grant_id.clone()).collect();
        let uris: Vec<String> = records.iter().map(|r| r.list_uri.clone()).collect();
        let idxs = records.iter().map(|r| idx_sql(r.idx)).collect::<Result<Vec<i64>, _>>()?;
        let until: Vec<i64> = records.iter().map(|r| r.expires_at).collect();
        self.run(move |c| async move {
            c.execute(
                "INSERT INTO issuer_grant_wuas (grant_id, list_uri, idx, expires_at) SELECT * FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::bigint[])
                 ON CONFLICT (grant_id, list_uri, idx) DO UPDATE SET expires_at = GREATEST(issuer_grant_wuas.expires_at, EXCLUDED.expires_at)",
                &[&grants, &uris, &idxs, &until],
            )
            .await?;
            Ok(())
        })
    }

    pub(super) fn wuas_to_recheck(&self, now: i64) -> Result<Vec<super::WuaRecord>, StoreError> {
        let rows = self.run(move |c| async move { Ok(c.query("SELECT grant_id, list_uri, idx, expires_at FROM issuer_grant_wuas WHERE expires_at > $1", &[&now]).await?) })?;
        rows.iter()
            .map(|r| Ok(super::WuaRecord { grant_id: r.try_get(0)?, list_uri: r.try_get(1)?, idx: idx_of(r.try_get(2)?)?, expires_at: r.try_get(3)? }))
            .collect()
    }

    pub(super) fn remember_jti(&self, jti: &str, expires_at: i64) -> Result<bool, StoreError> {
        Ok(self.execute("INSERT INTO issuer_jtis (jti, expires_at) VALUES ($1, $2) ON CONFLICT DO NOTHING", Args::new().s(jti).i(expires_at))? == 1)
    }

    pub(super) fn allocate_status_indices(&self, step: u64, n: usize) -> Result<Vec<u64>, StoreError> {
        self.run(move |c| async move {
            // The slots in use, kept by a trigger in 16 counter rows (the slot's index modulo
            // 16: random, so concurrent allocations on replicas rarely wait on one row lock),
            // filled from one `COUNT(*)` when the table is first made (the schema is one
            // statement batch: one transaction). A `COUNT(*)` here scanned every slot ever
            // allocated, per credential (docs/scaling.md). The count only sizes the space.
            let used: i64 = c.query_one("SELECT COALESCE(SUM(n), 0)::BIGINT FROM issuer_status_slot_count", &[]).await?.try_get(0)?;
            let mut out = Vec::with_capacity(n);
            'slot: for _ in 0..n {
                let space = status_space(u64::try_from(used).unwrap_or(0).saturating_add(out.len() as u64), step);
                for _ in 0..STATUS_DRAWS {
                    let idx = draw(space)?;
                    // The primary key makes the claim: of two replicas drawing the same slot, one inserts it.
                    if c.execute("INSERT INTO issuer_status_slots (idx) VALUES ($1) ON CONFLICT DO NOTHING", &[&idx_sql(idx)?]).await? == 1 {
                        out.push(idx);
                        continue 'slot;
                    }
                }
                return Err(StoreError::Corrupt(format!("no free status index found in {STATUS_DRAWS} draws")));
            }
            Ok(out)
        })
    }

    /// One statement: the spends (`ON CONFLICT DO NOTHING` on their primary keys) and the
    /// rows, inserted only when every spend was new (data-modifying CTEs run whatever the
    /// outcome, so what was spent stays spent: `Spend`).
    pub(super) fn insert_issued(&self, rows: &[Issued], spend: &Spend) -> Result<Spent, StoreError> {
        let mut t = Columns::default();
        for i in rows {
            t.text[0].push(i.id.clone());
            t.text[1].push(i.grant_id.clone());
            t.text[2].push(i.citizen.clone());
            t.text[3].push(i.configuration_id.clone());
            t.text[4].push(i.notification_id.clone());
            t.idx.push(idx_sql(i.status_idx)?);
            t.status.push(i16::from(i.status));
            t.issued_at.push(i.issued_at);
            t.expires_at.push(i.expires_at);
        }
        let s = SpendColumns::of(spend);
        self.run(move |c| async move {
            let [id, grant, citizen, configuration, notification] = &t.text;
            let r = c
                .query_one(
                    "WITH j AS (INSERT INTO issuer_jtis (jti, expires_at) SELECT * FROM UNNEST($10::text[], $11::bigint[]) ON CONFLICT DO NOTHING RETURNING 1),
                          n AS (INSERT INTO issuer_nonces (nonce, expires_at, used) SELECT u.n, u.e, TRUE FROM UNNEST($12::text[], $13::bigint[]) AS u(n, e)
                                ON CONFLICT DO NOTHING RETURNING 1),
                          i AS (INSERT INTO issuer_issued (id, grant_id, citizen, configuration_id, notification_id, status_idx, status, issued_at, expires_at)
                                SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::smallint[], $8::bigint[], $9::bigint[])
                                WHERE (SELECT COUNT(*) FROM j) = cardinality($10::text[]) AND (SELECT COUNT(*) FROM n) = cardinality($12::text[]) RETURNING 1)
                     SELECT (SELECT COUNT(*) FROM j), (SELECT COUNT(*) FROM n)",
                    &[id, grant, citizen, configuration, notification, &t.idx, &t.status, &t.issued_at, &t.expires_at, &s.jti, &s.jti_until, &s.nonces, &s.nonce_until],
                )
                .await?;
            s.outcome(r.try_get(0)?, r.try_get(1)?)
        })
    }

    pub(super) fn set_status(&self, target: Target<'_>, value: u8) -> Result<usize, StoreError> {
        let v = i16::from(value);
        let n = match target {
            Target::Credential(id) => self.execute("UPDATE issuer_issued SET status = $2 WHERE id = $1 AND status != 1", Args::new().s(id).h(v))?,
            Target::Citizen(c) => self.execute("UPDATE issuer_issued SET status = $2 WHERE citizen = $1 AND status != 1", Args::new().s(c).h(v))?,
            Target::Grant(g) => self.execute("UPDATE issuer_issued SET status = $2 WHERE grant_id = $1 AND status != $2 AND status != 1", Args::new().s(g).h(v))?,
        };
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    pub(super) fn revoked_among(&self, target: Target<'_>) -> Result<usize, StoreError> {
        let (sql, key): (&'static str, String) = match target {
            Target::Credential(id) => ("SELECT COUNT(*) FROM issuer_issued WHERE id = $1 AND status = 1", id.to_owned()),
            Target::Citizen(c) => ("SELECT COUNT(*) FROM issuer_issued WHERE citizen = $1 AND status = 1", c.to_owned()),
            Target::Grant(g) => ("SELECT COUNT(*) FROM issuer_issued WHERE grant_id = $1 AND status = 1", g.to_owned()),
        };
        let n: i64 = self.run(move |c| async move { Ok(c.query_one(sql, &[&key]).await?.try_get(0)?) })?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    pub(super) fn claim_reissue(&self, grant_id: &str, configuration_id: &str, marked: [u8; 2], claim: &str, now: i64, lease: i64) -> Result<Vec<String>, StoreError> {
        let (grant_id, configuration_id, claim) = (grant_id.to_owned(), configuration_id.to_owned(), claim.to_owned());
        let [a, b] = marked.map(i16::from);
        let until = now.saturating_add(lease);
        self.run(move |c| async move {
            let rows = c
                .query(
                    "UPDATE issuer_issued SET claim = $3, claim_until = $4
                     WHERE grant_id = $1 AND configuration_id = $2 AND status IN ($5, $6) AND (claim IS NULL OR claim_until <= $7)
                     RETURNING id",
                    &[&grant_id, &configuration_id, &claim, &until, &a, &b, &now],
                )
                .await?;
            rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
        })
    }

    pub(super) fn finish_reissue(&self, claim: &str, value: u8) -> Result<usize, StoreError> {
        let n = self.execute("UPDATE issuer_issued SET status = $2, claim = NULL, claim_until = NULL WHERE claim = $1", Args::new().s(claim).h(i16::from(value)))?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    pub(super) fn release_reissue(&self, claim: &str) -> Result<usize, StoreError> {
        let n = self.execute("UPDATE issuer_issued SET claim = NULL, claim_until = NULL WHERE claim = $1", Args::new().s(claim))?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    pub(super) fn issued_to(&self, citizen: &str) -> Result<Vec<Issued>, StoreError> {
        let citizen = citizen.to_owned();
        self.run(move |c| async move {
            let rows = c
                .query(
                    "SELECT id, grant_id, citizen, configuration_id, status_idx, status, notification_id, issued_at, expires_at, notified
                     FROM issuer_issued WHERE citizen = $1 ORDER BY issued_at, status_idx",
                    &[&citizen],
                )
                .await?;
            rows.iter().map(issued).collect()
        })
    }

    pub(super) fn status_version(&self) -> Result<StatusVersion, StoreError> {
        self.run(|c| async move {
            let r = c.query_one("SELECT version, (SELECT COALESCE(MAX(idx) + 1, 0) FROM issuer_status_slots) FROM issuer_status_version WHERE id = 1", &[]).await?;
            Ok(StatusVersion { version: idx_of(r.try_get(0)?)?, allocated: idx_of(r.try_get(1)?)? })
        })
    }

    pub(super) fn status_entries(&self) -> Result<(Vec<(u64, u8)>, u64), StoreError> {
        self.run(|c| async move {
            let rows = c.query("SELECT status_idx, status FROM issuer_issued WHERE status != 0", &[]).await?;
            let entries = rows.iter().map(|r| Ok((idx_of(r.try_get(0)?)?, status_of(r.try_get(1)?)?))).collect::<Result<Vec<_>, StoreError>>()?;
            let allocated: i64 = c.query_one("SELECT COALESCE(MAX(idx) + 1, 0) FROM issuer_status_slots", &[]).await?.try_get(0)?;
            Ok((entries, idx_of(allocated)?))
        })
    }

    pub(super) fn notify(&self, notification_id: &str, grant_id: &str, event: &str) -> Result<bool, StoreError> {
        let args = Args::new().s(notification_id).s(grant_id).s(event);
        Ok(self.execute("UPDATE issuer_issued SET notified = $3 WHERE notification_id = $1 AND grant_id = $2", args)? > 0)
    }

    /// As [`Postgres::insert_issued`]: the spends and the record in one statement.
    pub(super) fn insert_deferred(&self, transaction_id: &str, d: &Deferred, expires_at: i64, spend: &Spend) -> Result<Spent, StoreError> {
        let (id, grant, configuration, keys) = (transaction_id.to_owned(), d.grant_id.clone(), d.configuration_id.clone(), d.keys.clone());
        let s = SpendColumns::of(spend);
        self.run(move |c| async move {
            let r = c
                .query_one(
                    "WITH j AS (INSERT INTO issuer_jtis (jti, expires_at) SELECT * FROM UNNEST($6::text[], $7::bigint[]) ON CONFLICT DO NOTHING RETURNING 1),
                          n AS (INSERT INTO issuer_nonces (nonce, expires_at, used) SELECT u.n, u.e, TRUE FROM UNNEST($8::text[], $9::bigint[]) AS u(n, e)
                                ON CONFLICT DO NOTHING RETURNING 1),
                          d AS (INSERT INTO issuer_deferred (transaction_id, grant_id, configuration_id, keys, expires_at)
                                SELECT $1, $2, $3, $4, $5
                                WHERE (SELECT COUNT(*) FROM j) = cardinality($6::text[]) AND (SELECT COUNT(*) FROM n) = cardinality($8::text[]) RETURNING 1)
                     SELECT (SELECT COUNT(*) FROM j), (SELECT COUNT(*) FROM n), (SELECT COUNT(*) FROM d)",
                    &[&id, &grant, &configuration, &keys, &expires_at, &s.jti, &s.jti_until, &s.nonces, &s.nonce_until],
                )
                .await?;
            s.outcome(r.try_get(0)?, r.try_get(1)?)
        })
    }

    pub(super) fn deferred(&self, transaction_id: &str, now: i64) -> Result<Option<Deferred>, StoreError> {
        let id = transaction_id.to_owned();
        self.run(move |c| async move {
            let r = c
                .query_opt("SELECT grant_id, configuration_id, keys FROM issuer_deferred WHERE transaction_id = $1 AND NOT used AND expires_at > $2", &[&id, &now])
                .await?;
            r.map(|r| Ok(Deferred { grant_id: r.try_get(0)?, configuration_id: r.try_get(1)?, keys: r.try_get(2)? })).transpose()
        })
    }

    pub(super) fn consume_deferred(&self, transaction_id: &str) -> Result<bool, StoreError> {
        Ok(self.execute("UPDATE issuer_deferred SET used = TRUE WHERE transaction_id = $1 AND NOT used", Args::new().s(transaction_id))? == 1)
    }

    pub(super) fn insert_pushed(&self, request_uri_hash: &str, client_id: &str, request: &str, expires_at: i64) -> Result<(), StoreError> {
        let args = Args::new().s(request_uri_hash).s(client_id).s(request).i(expires_at);
        self.execute("INSERT INTO issuer_pushed (request_uri_hash, client_id, request, expires_at) VALUES ($1, $2, $3, $4)", args)?;
        Ok(())
    }

    pub(super) fn take_pushed(&self, request_uri_hash: &str, client_id: &str, now: i64) -> Result<Option<String>, StoreError> {
        self.text(
            "UPDATE issuer_pushed SET used = TRUE WHERE request_uri_hash = $1 AND client_id = $2 AND NOT used AND expires_at > $3 RETURNING request",
            Args::new().s(request_uri_hash).s(client_id).i(now),
        )
    }

    pub(super) fn insert_login(&self, id_hash: &str, request: &str, expires_at: i64) -> Result<(), StoreError> {
        self.execute("INSERT INTO issuer_logins (id_hash, request, expires_at) VALUES ($1, $2, $3)", Args::new().s(id_hash).s(request).i(expires_at))?;
        Ok(())
    }

    pub(super) fn fetch_login(&self, id_hash: &str, now: i64) -> Result<Option<String>, StoreError> {
        self.text(
            "UPDATE issuer_logins SET fetched = TRUE WHERE id_hash = $1 AND NOT fetched AND NOT used AND expires_at > $2 RETURNING request",
            Args::new().s(id_hash).i(now),
        )
    }

    pub(super) fn take_login(&self, id_hash: &str, now: i64) -> Result<Option<String>, StoreError> {
        self.text("UPDATE issuer_logins SET used = TRUE WHERE id_hash = $1 AND NOT used AND expires_at > $2 RETURNING request", Args::new().s(id_hash).i(now))
    }

    pub(super) fn insert_issuer_state(&self, state_hash: &str, offer: &str, expires_at: i64) -> Result<(), StoreError> {
        self.execute("INSERT INTO issuer_states (state_hash, offer, expires_at) VALUES ($1, $2, $3)", Args::new().s(state_hash).s(offer).i(expires_at))?;
        Ok(())
    }

    pub(super) fn pending_issuer_state(&self, state_hash: &str, now: i64) -> Result<Option<String>, StoreError> {
        self.text("SELECT offer FROM issuer_states WHERE state_hash = $1 AND NOT used AND expires_at > $2", Args::new().s(state_hash).i(now))
    }

    pub(super) fn take_issuer_state(&self, state_hash: &str, now: i64) -> Result<Option<String>, StoreError> {
        self.text("UPDATE issuer_states SET used = TRUE WHERE state_hash = $1 AND NOT used AND expires_at > $2 RETURNING offer", Args::new().s(state_hash).i(now))
    }

    pub(super) fn insert_code(&self, code_hash: &str, code: &str, expires_at: i64) -> Result<(), StoreError> {
        self.execute("INSERT INTO issuer_codes (code_hash, code, expires_at) VALUES ($1, $2, $3)", Args::new().s(code_hash).s(code).i(expires_at))?;
        Ok(())
    }

    pub(super) fn take_code(&self, code_hash: &str, now: i64) -> Result<Option<String>, StoreError> {
        self.text("UPDATE issuer_codes SET used = TRUE WHERE code_hash = $1 AND NOT used AND expires_at > $2 RETURNING code", Args::new().s(code_hash).i(now))
    }

    pub(super) fn purge(&self, now: i64) -> Result<(), StoreError> {
        self.run(move |c| async move {
            for table in EXPIRING {
                c.execute(&format!("DELETE FROM {table} WHERE expires_at <= $1"), &[&now]).await?;
            }
            Ok(())
        })
    }
}

/// The credentials of one response, column by column (`UNNEST`'s arrays).
#[derive(Default)]
struct Columns {
    /// id, grant_id, citizen, configuration_id, notification_id.
    text: [Vec<String>; 5],
    idx: Vec<i64>,
    status: Vec<i16>,
    issued_at: Vec<i64>,
    expires_at: Vec<i64>,
}

/// A [`Spend`] as statement parameters (arrays: zero or one `jti`, the nonces).
struct SpendColumns {
    jti: Vec<String>,
    jti_until: Vec<i64>,
    nonces: Vec<String>,
    nonce_until: Vec<i64>,
}

impl SpendColumns {
    fn of(spend: &Spend) -> Self {
        let (jti, jti_until) = spend.jti.iter().cloned().unzip();
        let (nonces, nonce_until) = spend.nonces.iter().cloned().unzip();
        Self { jti, jti_until, nonces, nonce_until }
    }

    /// What the statement's counts of new `jti`s and nonces say.
    fn outcome(&self, jtis: i64, nonces: i64) -> Result<Spent, StoreError> {
        let all = |n: i64, of: usize| usize::try_from(n).is_ok_and(|n| n == of);
        Ok(if !all(jtis, self.jti.len()) {
            Spent::JtiReplayed
        } else if !all(nonces, self.nonces.len()) {
            Spent::NonceReused
        } else {
            Spent::Recorded
        })
    }
}

/// A statement's parameters, owned (a call runs on the store's thread).
#[derive(Default)]
struct Args(Vec<Box<dyn tokio_postgres::types::ToSql + Send + Sync>>);

impl Args {
    fn new() -> Self {
        Self::default()
    }
    fn s(mut self, v: &str) -> Self {
        self.0.push(Box::new(v.to_owned()));
        self
    }
    fn o(mut self, v: Option<&str>) -> Self {
        self.0.push(Box::new(v.map(str::to_owned)));
        self
    }
    fn i(mut self, v: i64) -> Self {
        self.0.push(Box::new(v));
        self
    }
    fn h(mut self, v: i16) -> Self {
        self.0.push(Box::new(v));
        self
    }
    fn refs(&self) -> Vec<&(dyn tokio_postgres::types::ToSql + Sync)> {
        self.0.iter().map(|b| b.as_ref() as &(dyn tokio_postgres::types::ToSql + Sync)).collect()
    }
}

#[cfg(test)]
mod tests {
    /// The contract of both backends against PostgreSQL, in a schema of its own (skipped
    /// without `TESSERA_TEST_POSTGRES_URL`, a failure when `TESSERA_POSTGRES=required`).
    #[test]
    fn single_use_values() {
        let Some(base) = std::env::var("TESSERA_TEST_POSTGRES_URL").ok().filter(|u| !u.is_empty()) else {
            assert!(std::env::var("TESSERA_POSTGRES").as_deref() != Ok("required"), "TESSERA_POSTGRES=required but TESSERA_TEST_POSTGRES_URL is not set");
            eprintln!("skipped: TESSERA_TEST_POSTGRES_URL is not set (eval \"$(./scripts/postgres.sh)\")");
            return;
        };
        let mut b = [0u8; 6];
        getrandom::fill(&mut b).unwrap();
        let schema = format!("i_{}", b.iter().map(|x| format!("{x:02x}")).collect::<String>());
        let admin = |sql: String| {
            let base = base.clone();
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                let (client, conn) = tokio_postgres::connect(&base, tokio_postgres::NoTls).await.unwrap();
                tokio::spawn(conn);
                client.batch_execute(&sql).await.unwrap();
            });
        };
        admin(format!("CREATE SCHEMA {schema}"));
        let sep = if base.contains('?') { '&' } else { '?' };
        let s = crate::store::Store::postgres(&format!("{base}{sep}options=-csearch_path%3D{schema}")).unwrap();
        crate::store::contract::single_use_values(&s);
        crate::store::contract::reissue_claims(&s);
        crate::store::contract::wua_records(&s);
        drop(s);
        // The slot count follows the slots, and a database from before it gets it filled.
        let counts = || {
            let base = base.clone();
            let schema = schema.clone();
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                let (client, conn) = tokio_postgres::connect(&base, tokio_postgres::NoTls).await.unwrap();
                tokio::spawn(conn);
                let kept: i64 = client.query_one(&format!("SELECT COALESCE(SUM(n), 0)::BIGINT FROM {schema}.issuer_status_slot_count"), &[]).await.unwrap().get(0);
                let rows: i64 = client.query_one(&format!("SELECT COUNT(*) FROM {schema}.issuer_status_slots"), &[]).await.unwrap().get(0);
                (kept, rows)
            })
        };
        let (kept, rows) = counts();
        assert!(rows >= 40, "the contract allocated slots");
        assert_eq!(kept, rows);
        admin(format!("DROP TRIGGER issuer_status_slot_counted ON {schema}.issuer_status_slots; DROP TABLE {schema}.issuer_status_slot_count"));
        let s = crate::store::Store::postgres(&format!("{base}{sep}options=-csearch_path%3D{schema}")).unwrap();
        s.allocate_status_indices(16, 1).unwrap();
        drop(s);
        assert_eq!(counts(), (rows + 1, rows + 1), "filled at open, then followed");
        admin(format!("DROP SCHEMA {schema} CASCADE"));
    }
}
