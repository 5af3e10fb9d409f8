//! The PostgreSQL test database, when there is one (`scripts/postgres.sh` starts it and
//! prints `TESSERA_TEST_POSTGRES_URL`); each test gets a schema of its own.

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
    base: String,
}

impl Schema {
    pub async fn new(base: &str) -> Self {
        let mut b = [0u8; 6];
        getrandom::fill(&mut b).unwrap();
        let name = format!("i_{}", b.iter().map(|x| format!("{x:02x}")).collect::<String>());
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
