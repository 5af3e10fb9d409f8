//! Sample registries a new user can try (`tessera-issuer load-sample pid|mdl|health-card`):
//! three residents, their driving licences (one not ready yet, to show deferred issuance;
//! one with restrictions) with a small portrait JPEG, and their health cards. The tables are
//! the presets' default sources ([`crate::presets::Preset::sample_source`]).

use std::path::Path;

use rusqlite::params;

use crate::config::Config;
use crate::presets::Preset;
use crate::registry::RegistryError;

/// A 32×40 grey-scale baseline JPEG (a silhouette), the licences' portrait.
pub const PORTRAIT_JPEG: &[u8] = include_bytes!("../samples/portrait.jpg");

/// The sample citizens' tax codes: Mario Rossi, Luigia Verdi, Giuseppe Bianchi.
pub const CITIZENS: [&str; 3] = ["RSSMRA80A10H501Z", "VRDLGU85M41F205X", "BNCGPP90C15L219K"];

/// Creates (or refills) `preset`'s sample table in the registry at `path`; the number of rows.
pub fn load(path: &Path, preset: Preset) -> Result<usize, RegistryError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| RegistryError(format!("{}: {e}", dir.display())))?;
    }
    let conn = rusqlite::Connection::open(path)?;
    // WAL (persistent in the file): the issuer's read-only lookups then start their read
    // transactions from the shared WAL index in memory, not with a file lock, a stat of the
    // rollback journal and a read of the header each (docs/operators.md, the registry).
    conn.pragma_update(None, "journal_mode", "WAL")?;
    fill(&conn, preset)
}

/// Creates (or refills) `preset`'s sample table in the PostgreSQL registry at `url`
/// (`registry_url`): made in SQLite in memory, then copied
/// ([`crate::registry::copy_to_postgres`]); the number of rows.
pub fn load_postgres(url: &str, preset: Preset) -> Result<usize, RegistryError> {
    let conn = rusqlite::Connection::open_in_memory()?;
    fill(&conn, preset)?;
    crate::registry::copy_to_postgres(&conn, &preset.sample_source().table, url)
}

/// Fills `preset`'s sample table in the registry `config` names: PostgreSQL when it sets
/// `registry_url`, else the SQLite file `registry`. The number of rows and where they went
/// (the file's path, or "the PostgreSQL registry": the URL may hold a password).
pub fn load_configured(config: &Config, preset: Preset) -> Result<(usize, String), RegistryError> {
    match &config.registry_url {
        Some(url) => Ok((load_postgres(url, preset)?, "the PostgreSQL registry".to_owned())),
        None => Ok((load(&config.registry, preset)?, config.registry.display().to_string())),
    }
}

fn fill(conn: &rusqlite::Connection, preset: Preset) -> Result<usize, RegistryError> {
    let [mario, luigia, giuseppe] = CITIZENS;
    let n = match preset {
        Preset::Pid => {
            conn.execute_batch(
                "CREATE TABLE IF NOT EXISTS residents (tax_id_code TEXT PRIMARY KEY, given_name TEXT NOT NULL, surname TEXT NOT NULL,
                 birthdate TEXT NOT NULL, place_of_birth TEXT NOT NULL, nationalities TEXT NOT NULL, tax_id_code_claim TEXT NOT NULL)",
            )?;
            let rows = [
                (mario, "Mario", "Rossi", "1980-01-10", r#"{"locality":"Roma","country":"IT"}"#),
                (luigia, "Luigia", "Verdi", "1985-08-01", r#"{"locality":"Milano","country":"IT"}"#),
                (giuseppe, "Giuseppe", "Bianchi", "1990-03-15", r#"{"locality":"Torino","country":"IT"}"#),
            ];
            for (cf, given, family, birth, place) in rows {
                conn.execute(
                    "INSERT OR REPLACE INTO residents VALUES (?1, ?2, ?3, ?4, ?5, '[\"IT\"]', ?6)",
                    params![cf, given, family, birth, place, format!("TINIT-{cf}")],
                )?;
            }
            rows.len()
        }
        Preset::Mdl => {
            conn.execute_batch(
                "CREATE TABLE IF NOT EXISTS licences (tax_id_code TEXT PRIMARY KEY, given_name TEXT NOT NULL, surname TEXT NOT NULL,
                 birth_date TEXT NOT NULL, place_of_birth TEXT NOT NULL, issue_date TEXT NOT NULL, expiry_date TEXT NOT NULL,
                 issuing_country TEXT NOT NULL, issuing_authority TEXT NOT NULL, document_number TEXT NOT NULL, portrait BLOB,
                 driving_privileges TEXT NOT NULL, restrictions_conditions TEXT, ready INTEGER NOT NULL DEFAULT 1)",
            )?;
            let b = r#"[{"vehicle_category_code":"AM","issue_date":"2015-09-17","expiry_date":"2031-06-10"},{"vehicle_category_code":"B","issue_date":"2015-09-17","expiry_date":"2031-06-10"}]"#;
            let ab = r#"[{"vehicle_category_code":"A","issue_date":"2010-05-02","expiry_date":"2030-05-02"},{"vehicle_category_code":"B","issue_date":"2004-02-11","expiry_date":"2030-05-02"}]"#;
            let rows = [
                (mario, "Mario", "Rossi", "1980-01-10", r#"{"locality":"Roma","country":"IT"}"#, "2021-06-10", "2031-06-10", "RM5012345A", b, None, 1),
                (luigia, "Luigia", "Verdi", "1985-08-01", r#"{"locality":"Milano","country":"IT"}"#, "2026-11-20", "2036-11-20", "MI7654321B", b, None, 0),
                (giuseppe, "Giuseppe", "Bianchi", "1990-03-15", r#"{"locality":"Torino","country":"IT"}"#, "2020-05-02", "2030-05-02", "TO1122334C", ab, Some(r#"["01.06"]"#), 1),
            ];
            for (cf, given, family, birth, place, issued, expiry, number, privileges, restrictions, ready) in rows {
                conn.execute(
                    "INSERT OR REPLACE INTO licences VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'IT', 'Ministero delle Infrastrutture e dei Trasporti', ?8, ?9, ?10, ?11, ?12)",
                    params![cf, given, family, birth, place, issued, expiry, number, PORTRAIT_JPEG, privileges, restrictions, ready],
                )?;
            }
            rows.len()
        }
        Preset::HealthCard => {
            conn.execute_batch(
                "CREATE TABLE IF NOT EXISTS health_cards (tax_id_code TEXT PRIMARY KEY, document_number TEXT NOT NULL, given_name TEXT NOT NULL,
                 surname TEXT NOT NULL, birth_date TEXT NOT NULL, authentic_source TEXT NOT NULL, starting_date TEXT NOT NULL, ending_date TEXT NOT NULL)",
            )?;
            let source = r#"{"id":"IT:MEF","name":"Ministero dell'Economia e delle Finanze"}"#;
            let rows = [
                (mario, "80380000500012345678", "Mario", "Rossi", "1980-01-10"),
                (luigia, "80380000500087654321", "Luigia", "Verdi", "1985-08-01"),
                (giuseppe, "80380000500011223344", "Giuseppe", "Bianchi", "1990-03-15"),
            ];
            for (cf, number, given, family, birth) in rows {
                conn.execute(
                    "INSERT OR REPLACE INTO health_cards VALUES (?1, ?2, ?3, ?4, ?5, ?6, '2024-01-01', '2030-12-31')",
                    params![cf, number, given, family, birth, source],
                )?;
            }
            rows.len()
        }
    };
    Ok(n)
}
