//! `tessera up --database-url`: a schema of its own for each service on one PostgreSQL
//! database (the services' federation tables share names), created when missing.

use service_kit::pg::{Pg, PgError};

/// The services with a PostgreSQL store, by the name their schema takes after the prefix.
pub(crate) const SERVICES: [&str; 7] = ["trust_anchor", "intermediate", "motorizzazione", "wallet_provider", "verifier", "pid_provider", "health_cards"];

/// Why the schemas could not be made.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SchemaError {
    #[error("--schema-prefix {0:?}: lower-case letters, digits and `_`, starting with a letter")]
    Prefix(String),
    #[error("--database-url: not a PostgreSQL URL (postgres://user:password@host:port/db)")]
    Scheme,
    #[error("--database-url: {0}")]
    Database(#[from] PgError),
}

/// The database and the prefix of the services' schemas, which exist.
pub(crate) struct Schemas {
    base: String,
    prefix: String,
}

impl Schemas {
    /// Checks `url` and `prefix`, connects and creates each service's schema when missing.
    pub(crate) fn create(url: &str, prefix: &str) -> Result<Self, SchemaError> {
        let ok = prefix.chars().next().is_some_and(|c| c.is_ascii_lowercase())
            && prefix.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            && prefix.len() <= 40;
        if !ok {
            return Err(SchemaError::Prefix(prefix.into()));
        }
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(SchemaError::Scheme);
        }
        let ddl: String = SERVICES.iter().map(|s| format!("CREATE SCHEMA IF NOT EXISTS {prefix}{s};")).collect();
        let db = Pg::new(url, "tessera-up", "")?;
        db.run(move |c| async move {
            c.batch_execute(&ddl).await.map_err(PgError::from)?;
            Ok::<_, PgError>(())
        })?;
        Ok(Self { base: url.to_owned(), prefix: prefix.to_owned() })
    }

    /// The URL of `service`'s schema (`options=-csearch_path=<prefix><service>`).
    pub(crate) fn url(&self, service: &str) -> String {
        let sep = if self.base.contains('?') { '&' } else { '?' };
        format!("{}{sep}options=-csearch_path%3D{}{service}", self.base, self.prefix)
    }

    /// The URL without its password, to print.
    pub(crate) fn redacted(&self) -> String {
        match url::Url::parse(&self.base) {
            Ok(mut u) if u.password().is_some() => {
                let _ = u.set_password(Some("***"));
                u.to_string()
            }
            Ok(u) => u.to_string(),
            Err(_) => "(unparsed URL)".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_prefix_or_scheme_is_refused_before_connecting() {
        for p in ["", "1x", "a-b", "A", "x;drop"] {
            assert!(matches!(Schemas::create("postgres://u:p@127.0.0.1:1/db", p), Err(SchemaError::Prefix(_))), "{p}");
        }
        assert!(matches!(Schemas::create("mysql://u:p@127.0.0.1/db", "t_"), Err(SchemaError::Scheme)));
    }

    #[test]
    fn each_service_gets_its_search_path() {
        let s = Schemas { base: "postgres://u:p@h/db".into(), prefix: "t_".into() };
        assert_eq!(s.url("verifier"), "postgres://u:p@h/db?options=-csearch_path%3Dt_verifier");
        let s = Schemas { base: "postgres://u:p@h/db?connect_timeout=2".into(), prefix: "t_".into() };
        assert_eq!(s.url("issuer"), "postgres://u:p@h/db?connect_timeout=2&options=-csearch_path%3Dt_issuer");
        assert_eq!(s.redacted(), "postgres://u:***@h/db?connect_timeout=2");
    }
}
