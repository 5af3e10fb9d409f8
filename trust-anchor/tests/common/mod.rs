//! Shared by the integration tests: the PostgreSQL test database, when there is one.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code

/// The test PostgreSQL URL from `TESSERA_TEST_POSTGRES_URL` (`scripts/postgres.sh` prints
/// it). Unset: the test fails when `TESSERA_POSTGRES=required`, else it says it skipped.
pub(crate) fn postgres_url(test: &str) -> Option<String> {
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

/// A fresh schema in the test database, dropped on drop; its URL selects it through the
/// connection's `options` (`-c search_path=...`), so tests running at once do not meet.
pub(crate) struct Schema {
    pub(crate) url: String,
    name: String,
    base: String,
}

impl Schema {
    pub(crate) async fn new(base: &str) -> Self {
        let mut b = [0u8; 6];
        getrandom::fill(&mut b).unwrap();
        let name = format!("t_{}", b.iter().map(|x| format!("{x:02x}")).collect::<String>());
        let (client, conn) = tokio_postgres::connect(base, tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(conn);
        client.batch_execute(&format!("CREATE SCHEMA {name}")).await.unwrap();
        let sep = if base.contains('?') { '&' } else { '?' };
        Self { url: format!("{base}{sep}options=-csearch_path%3D{name}"), name, base: base.to_owned() }
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        // Best effort, on a thread of its own: the test's runtime may be shutting down.
        let (base, name) = (self.base.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                if let Ok((client, conn)) = tokio_postgres::connect(&base, tokio_postgres::NoTls).await {
                    tokio::spawn(conn);
                    let _ = client.batch_execute(&format!("DROP SCHEMA {name} CASCADE")).await;
                }
            });
        })
        .join();
    }
}
