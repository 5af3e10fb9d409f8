//! Keys for rows a service adds at a high rate (the issuer's credentials and grants, the
//! verifier's sessions): unguessable, and ordered by creation time.
//!
//! A key is the creation time in milliseconds as 12 hex digits, then 18 random bytes in
//! base64url (144 bits, so a key is still as hard to guess as a token). Why ordered: every
//! unique index over a random key takes each new row at a random page, and a commit writes
//! each page it touches whole to SQLite's WAL (or PostgreSQL's); keys made together sort
//! together, so the rows one commit adds share the last page or two of each index. Measured
//! on the issuer's store (`issuer/examples/store_bench.rs`): 52 µs of CPU a credential
//! recorded with random keys, 24 µs with ordered ones. What the time prefix reveals (when a
//! row was made, to the millisecond) is no secret of ours: the messages carrying these keys
//! carry their `iat` too.

/// Its length: 12 hex digits and 24 base64url characters.
pub const LEN: usize = 36;

/// `N` fresh keys made now, from one call to the system's generator.
pub fn ordered<const N: usize>() -> Result<[String; N], getrandom::Error> {
    let ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis()) & 0xffff_ffff_ffff;
    let mut random = [[0u8; 18]; N];
    getrandom::fill(random.as_flattened_mut())?;
    Ok(random.map(|r| format!("{ms:012x}{}", wallet_core::jose::b64::encode(r))))
}

/// One fresh key made now.
pub fn ordered_one() -> Result<String, getrandom::Error> {
    let [k] = ordered()?;
    Ok(k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_by_creation_and_stay_unguessable() {
        let mut keys: Vec<String> = (0..32).map(|_| ordered_one().unwrap()).collect();
        keys.extend(ordered::<32>().unwrap());
        for pair in keys.windows(2) {
            // The time prefix never goes back; the random rest differs.
            assert!(pair[0][..12] <= pair[1][..12], "{pair:?}");
            assert_ne!(pair[0][12..], pair[1][12..]);
        }
        assert!(keys.iter().all(|k| k.len() == LEN && k[..12].bytes().all(|b| b.is_ascii_hexdigit())));
        assert_eq!(wallet_core::jose::b64::decode(&keys[0][12..]).unwrap().len(), 18);
    }
}
