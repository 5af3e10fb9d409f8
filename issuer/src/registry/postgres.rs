//! The registry in PostgreSQL (`registry_url`): the same mapping as SQLite's, one table per
//! credential, read with `SELECT`s only, over `service_kit::pg` (its own runtime thread, one
//! shared connection, a timeout per call). A column's type decides its claim: integers and
//! floats as numbers, booleans as booleans, `bytea` as base64url, `json`/`jsonb` (and the
//! columns listed in `json`) parsed, anything else (text, dates) as its text.
//!
//! [`copy_to_postgres`] copies a table of an SQLite registry into PostgreSQL (the sample
//! registries, or an operator's own when moving to replicas).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use rusqlite::types::Value as SqlValue;
use serde_json::{Map, Value};
use service_kit::pg::{Client, Pg, PgError, Row};
use tokio_postgres::types::{ToSql, Type};

use super::{Record, RegistryError, select};
use crate::config::{Source, is_identifier};

impl From<PgError> for RegistryError {
    fn from(e: PgError) -> Self {
        Self(e.to_string())
    }
}

impl From<tokio_postgres::Error> for RegistryError {
    fn from(e: tokio_postgres::Error) -> Self {
        Self(format!("PostgreSQL: {e}"))
    }
}

/// How a column is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int,
    Float,
    Bool,
    Bytes,
    Json,
    Text,
}

impl Kind {
    fn of(t: &Type) -> Self {
        match *t {
            Type::INT2 | Type::INT4 | Type::INT8 | Type::OID => Self::Int,
            Type::FLOAT4 | Type::FLOAT8 | Type::NUMERIC => Self::Float,
            Type::BOOL => Self::Bool,
            Type::BYTEA => Self::Bytes,
            Type::JSON | Type::JSONB => Self::Json,
            _ => Self::Text,
        }
    }

    /// The column converted to the type it is read as.
    fn expr(self, column: &str) -> String {
        match self {
            Self::Int => format!("\"{column}\"::bigint"),
            Self::Float => format!("\"{column}\"::float8"),
            Self::Bool => format!("\"{column}\""),
            Self::Bytes => format!("encode(\"{column}\", 'hex')"),
            Self::Json | Self::Text => format!("\"{column}\"::text"),
        }
    }

    fn read(self, r: &Row, i: usize, json: bool) -> Result<Value, RegistryError> {
        let bad = |e: String| RegistryError(format!("column {i}: {e}"));
        Ok(match self {
            Self::Int => r.try_get::<_, Option<i64>>(i)?.map_or(Value::Null, Value::from),
            Self::Float => r.try_get::<_, Option<f64>>(i)?.map_or(Value::Null, Value::from),
            Self::Bool => r.try_get::<_, Option<bool>>(i)?.map_or(Value::Null, Value::Bool),
            Self::Bytes => match r.try_get::<_, Option<String>>(i)? {
                Some(hex) => Value::String(wallet_core::jose::b64::encode(&from_hex(&hex).ok_or_else(|| bad("not hex".into()))?)),
                None => Value::Null,
            },
            Self::Json | Self::Text => match r.try_get::<_, Option<String>>(i)? {
                Some(s) if self == Self::Json || json => serde_json::from_str(&s).map_err(|e| bad(e.to_string()))?,
                Some(s) => Value::String(s),
                None => Value::Null,
            },
        })
    }
}

fn from_hex(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    if !b.len().is_multiple_of(2) {
        return None;
    }
    b.chunks(2).map(|p| std::str::from_utf8(p).ok().and_then(|h| u8::from_str_radix(h, 16).ok())).collect()
}

/// A source's typed `SELECT` and how each of its columns is read.
type Plan = (String, Vec<Kind>);

/// The PostgreSQL registry.
#[derive(Debug)]
pub(super) struct PgRegistry {
    db: Pg,
    /// Typed `SELECT`s, by the plain one (the column types are learnt once per source).
    plans: Arc<Mutex<HashMap<String, Plan>>>,
}

impl PgRegistry {
    pub(super) fn new(url: &str) -> Result<Self, RegistryError> {
        Ok(Self { db: Pg::new(url, "tessera-issuer-registry", "")?, plans: Arc::default() })
    }

    pub(super) fn lookup(&self, source: &Source, citizen: &str) -> Result<Record, RegistryError> {
        let (source, citizen, plans) = (source.clone(), citizen.to_owned(), Arc::clone(&self.plans));
        self.db.run(move |c| async move {
            let (sql, kinds) = plan(&c, &source, &plans).await?;
            let Some(r) = c.query_opt(&sql, &[&citizen]).await? else { return Ok(Record::Unknown) };
            let mut claims = Map::new();
            for (i, ((claim, column), kind)) in source.claims.iter().zip(&kinds).enumerate() {
                match kind.read(&r, i, source.json.iter().any(|j| j == column))? {
                    Value::Null => {}
                    v => {
                        claims.insert(claim.clone(), v);
                    }
                }
            }
            let ready = match (&source.ready, kinds.get(source.claims.len())) {
                (Some(_), Some(kind)) => match kind.read(&r, source.claims.len(), false)? {
                    Value::Bool(b) => b,
                    Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
                    Value::String(s) => !matches!(s.as_str(), "" | "0" | "f" | "false"),
                    _ => false,
                },
                _ => true,
            };
            Ok(if ready { Record::Ready(claims) } else { Record::NotReady })
        })
    }
}

/// `source`'s typed `SELECT`: the plain one prepared (not run) to learn the column types.
async fn plan(c: &Client, source: &Source, plans: &Mutex<HashMap<String, Plan>>) -> Result<Plan, RegistryError> {
    let plain = select(source, |n| format!("\"{n}\""), "$1");
    if let Some(p) = plans.lock().unwrap_or_else(PoisonError::into_inner).get(&plain) {
        return Ok(p.clone());
    }
    let kinds: Vec<Kind> = c.prepare(&plain).await?.columns().iter().map(|col| Kind::of(col.type_())).collect();
    let mut next = kinds.iter();
    let typed = select(source, |n| next.next().copied().unwrap_or(Kind::Text).expr(n), "$1");
    let p = (typed, kinds);
    plans.lock().unwrap_or_else(PoisonError::into_inner).insert(plain, p.clone());
    Ok(p)
}

/// A PostgreSQL column type for an SQLite declared type (its affinity, SQLite §3.1).
fn pg_type(declared: &str) -> &'static str {
    let d = declared.to_ascii_uppercase();
    if d.contains("INT") {
        "BIGINT"
    } else if d.contains("CHAR") || d.contains("CLOB") || d.contains("TEXT") {
        "TEXT"
    } else if d.contains("BLOB") || d.is_empty() {
        "BYTEA"
    } else if d.contains("REAL") || d.contains("FLOA") || d.contains("DOUB") {
        "DOUBLE PRECISION"
    } else {
        "TEXT"
    }
}

/// One SQLite value as a parameter for a column of `pg` type (NULL typed as the column).
fn param(pg: &str, v: SqlValue) -> Box<dyn ToSql + Send + Sync> {
    match (pg, v) {
        ("BIGINT", SqlValue::Integer(n)) => Box::new(Some(n)),
        ("BIGINT", SqlValue::Real(f)) => Box::new(Some(f as i64)),
        ("BIGINT", _) => Box::new(None::<i64>),
        ("DOUBLE PRECISION", SqlValue::Real(f)) => Box::new(Some(f)),
        ("DOUBLE PRECISION", SqlValue::Integer(n)) => Box::new(Some(n as f64)),
        ("DOUBLE PRECISION", _) => Box::new(None::<f64>),
        ("BYTEA", SqlValue::Blob(b)) => Box::new(Some(b)),
        ("BYTEA", SqlValue::Text(t)) => Box::new(Some(t.into_bytes())),
        ("BYTEA", _) => Box::new(None::<Vec<u8>>),
        (_, SqlValue::Text(t)) => Box::new(Some(t)),
        (_, SqlValue::Integer(n)) => Box::new(Some(n.to_string())),
        (_, SqlValue::Real(f)) => Box::new(Some(f.to_string())),
        (_, SqlValue::Blob(b)) => Box::new(Some(String::from_utf8_lossy(&b).into_owned())),
        (_, SqlValue::Null) => Box::new(None::<String>),
    }
}

/// Copies `table` of the SQLite registry `from` into the PostgreSQL database at `url`: the
/// table created if missing (column types from the SQLite declared types, the same primary
/// key), each row inserted or, by its primary key, replaced. The number of rows.
pub fn copy_to_postgres(from: &rusqlite::Connection, table: &str, url: &str) -> Result<usize, RegistryError> {
    if !is_identifier(table) {
        return Err(RegistryError(format!("`{table}` is not a plain SQL identifier")));
    }
    let mut columns: Vec<(String, &'static str, bool)> = Vec::new();
    {
        let mut stmt = from.prepare(&format!("PRAGMA table_info(\"{table}\")"))?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, i64>(5)? > 0)))?;
        for row in rows {
            let (name, declared, pk) = row?;
            if !is_identifier(&name) {
                return Err(RegistryError(format!("column `{name}` is not a plain SQL identifier")));
            }
            columns.push((name, pg_type(&declared), pk));
        }
    }
    if columns.is_empty() {
        return Err(RegistryError(format!("no table `{table}`")));
    }
    let list = columns.iter().map(|(n, _, _)| format!("\"{n}\"")).collect::<Vec<_>>().join(", ");
    let mut rows: Vec<Vec<Box<dyn ToSql + Send + Sync>>> = Vec::new();
    {
        let mut stmt = from.prepare(&format!("SELECT {list} FROM \"{table}\""))?;
        let mut q = stmt.query([])?;
        while let Some(r) = q.next()? {
            let mut row = Vec::with_capacity(columns.len());
            for (i, (_, pg, _)) in columns.iter().enumerate() {
                row.push(param(pg, r.get::<_, SqlValue>(i)?));
            }
            rows.push(row);
        }
    }
    let defs = columns.iter().map(|(n, t, _)| format!("\"{n}\" {t}")).collect::<Vec<_>>();
    let pk: Vec<String> = columns.iter().filter(|(_, _, pk)| *pk).map(|(n, _, _)| format!("\"{n}\"")).collect();
    let create = if pk.is_empty() {
        format!("CREATE TABLE IF NOT EXISTS \"{table}\" ({})", defs.join(", "))
    } else {
        format!("CREATE TABLE IF NOT EXISTS \"{table}\" ({}, PRIMARY KEY ({}))", defs.join(", "), pk.join(", "))
    };
    let placeholders = (1..=columns.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ");
    let update = columns.iter().filter(|(_, _, pk)| !pk).map(|(n, _, _)| format!("\"{n}\" = EXCLUDED.\"{n}\"")).collect::<Vec<_>>();
    let insert = match (pk.is_empty(), update.is_empty()) {
        (true, _) => format!("INSERT INTO \"{table}\" ({list}) VALUES ({placeholders})"),
        (false, true) => format!("INSERT INTO \"{table}\" ({list}) VALUES ({placeholders}) ON CONFLICT ({}) DO NOTHING", pk.join(", ")),
        (false, false) => format!("INSERT INTO \"{table}\" ({list}) VALUES ({placeholders}) ON CONFLICT ({}) DO UPDATE SET {}", pk.join(", "), update.join(", ")),
    };
    let db = Pg::new(url, "tessera-issuer-registry", "")?;
    db.run(move |c| async move {
        c.batch_execute(&create).await?;
        let stmt = c.prepare(&insert).await?;
        for row in &rows {
            let refs: Vec<&(dyn ToSql + Sync)> = row.iter().map(|b| b.as_ref() as &(dyn ToSql + Sync)).collect();
            c.execute(&stmt, &refs).await?;
        }
        Ok::<_, RegistryError>(rows.len())
    })
}
