//! Files a service keeps that hold personal or federation data (SQLite databases: the wallet
//! provider's links fiscal numbers to wallet instances) are as private as the keys beside them:
//! readable and writable by their owner only.

use std::path::{Path, PathBuf};

/// Creates the database file `path` with mode 0600 if it does not exist, and tightens it (and
/// SQLite's `-wal` and `-shm` beside it, which otherwise take the database's mode) to 0600 if
/// others may read or write it. Call it before the database library opens the file.
pub fn private_database(path: &Path) -> std::io::Result<()> {
    private_file(path, true)?;
    for side in ["-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(side);
        let p = PathBuf::from(p);
        if p.exists() {
            private_file(&p, false)?;
        }
    }
    Ok(())
}

#[cfg(unix)]
fn private_file(path: &Path, create: bool) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
    let f = std::fs::OpenOptions::new().append(true).create(create).mode(0o600).open(path)?;
    let mode = f.metadata()?.permissions().mode();
    if mode & 0o077 != 0 {
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        tracing::warn!(path = %path.display(), mode = format!("{:o}", mode & 0o777), "file was open to others: mode set to 0600");
    }
    Ok(())
}

#[cfg(not(unix))]
fn private_file(path: &Path, create: bool) -> std::io::Result<()> {
    std::fs::OpenOptions::new().append(true).create(create).open(path).map(|_| ())
}

#[cfg(test)]
#[cfg(unix)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn created_private_and_loose_ones_tightened() {
        let dir = std::env::temp_dir().join(format!("service-kit-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let db = dir.join("x.db");
        let _ = std::fs::remove_file(&db);
        private_database(&db).unwrap();
        assert_eq!(mode(&db), 0o600);
        let wal = dir.join("x.db-wal");
        std::fs::write(&wal, b"").unwrap();
        std::fs::set_permissions(&wal, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o664)).unwrap();
        private_database(&db).unwrap();
        assert_eq!((mode(&db), mode(&wal)), (0o600, 0o600));
        assert!(!dir.join("x.db-shm").exists(), "side files are not created");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
