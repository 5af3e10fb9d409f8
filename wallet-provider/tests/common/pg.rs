//! The PostgreSQL test database, when there is one (`scripts/postgres.sh` starts it and
//! prints `TESSERA_TEST_POSTGRES_URL`); each test gets a schema of its own.

use service_kit::pg::{Pg, PgError};

/// The test database URL. Unset: the test fails when `TESSERA_POSTGRES=required`, else it
/// says it skipped.
pub fn postgres_url(test: &str) -> Option<String> {
    match std::env::var("TESSERA_TEST_POSTGRES_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            assert!(
                std::env::var("TESSERA_POSTGRES").as_deref() != Ok("required"),
                "TESSERA_POSTGRES=required but TESSERA_TEST_POSTGRES_URL is not set: eval \"$(./scripts/postgres.sh)\""
            );
            eprintln!("{test}: skipped (TESSERA_TEST_POSTGRES_URL is not set; eval \"$(./scripts/postgres.sh)\" to run it)");
            None
        }
    }
}

/// A fresh schema, dropped on drop; its URL selects it through the connection's `options`
/// (`-c search_path=...`), so tests running at once do not meet.
pub struct Schema {
    pub url: String,
    name: String,
    admin: Pg,
}

fn ddl(admin: &Pg, sql: String) -> Result<(), PgError> {
    admin.run(move |c| async move { Ok::<_, PgError>(c.batch_execute(&sql).await?) })
}

impl Schema {
    pub fn new(base: &str) -> Self {
        let mut b = [0u8; 6];
        getrandom::fill(&mut b).unwrap();
        let name = format!("wp_{}", b.iter().map(|x| format!("{x:02x}")).collect::<String>());
        let admin = Pg::new(base, "wallet-provider-tests", "").unwrap();
        ddl(&admin, format!("CREATE SCHEMA {name}")).unwrap();
        let sep = if base.contains('?') { '&' } else { '?' };
        Self { url: format!("{base}{sep}options=-csearch_path%3D{name}"), name, admin }
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        // Best effort: the schema's name is random, a leftover harms no other test.
        let _ = ddl(&self.admin, format!("DROP SCHEMA {} CASCADE", self.name));
    }
}
