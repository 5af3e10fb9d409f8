//! A Token Status List for 50 million credentials (draft-ietf-oauth-status-list §4, §5.1;
//! IT-Wallet 1.4 §6), at 1 and 2 bits per status: what the issuer and a verifier pay.
//!
//! - `build`: the list from a sparse set of non-zero entries, as the issuer builds it from
//!   its database (`issuer::routes::current_list`: a zeroed list, then one `set` per row);
//! - `update_one`: one entry changed (a revocation);
//! - `compress`: `lst`, ZLIB at the best level then base64url (draft §4.2);
//! - `sign`: the whole `statuslist+jwt` (compress + claims + ES256);
//! - `decode_lookup`: a verifier's side once the JWS is checked: inflate `lst` within the
//!   decompression bound and read one index;
//! - `verify_lookup`: `StatusListToken::verify` then one lookup, where the token fits the JWS
//!   size bound ([`wallet_core::jose::jws::MAX_JWS_LEN`]).
//!
//! Timed at 1 % of entries non-zero. Before the timings, tables of the size on the wire at
//! 0.1 %, 1 % and 10 % non-zero (one run each, with single-shot times), for the 50-million
//! list and for one shard of a million entries. The non-zero entries
//! are spread uniformly at random (a fixed seed): the worst case for compression; real
//! revocations cluster by issuance date and compress better.
//!
//! `cargo bench -p wallet-core --bench status_list_scale` (a few minutes);
//! `-- --quick` for a shorter run; `-- sign` to run one group. Figures: docs/scaling.md.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // bench code

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion};
use wallet_core::jose::jws::MAX_JWS_LEN;
use wallet_core::jose::{JwsHeader, Signer, SoftwareSigner};
use wallet_core::sd_jwt::StaticKeyResolver;
use wallet_core::status::{Bits, DEFAULT_MAX_DECOMPRESSED, StatusList, StatusListToken, StatusReference, StatusValue, decode_lst};
use wallet_core::time::UnixTime;

const ENTRIES: u64 = 50_000_000;
/// One shard of a national deployment split into lists of a million entries.
const SHARD: u64 = 1_000_000;
const NOW: UnixTime = UnixTime(1_800_000_000);
const URI: &str = "https://issuer.example.it/status-list";
const TIMED_PER_MILLE: u64 = 10;

/// SplitMix64: a fixed, dependency-free sequence of pseudo-random indices.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// The database rows: `per_mille`/1000 of the entries non-zero (duplicates possible, as an
/// update of an already revoked entry); with 2 bits, one in ten is SUSPENDED.
fn sparse(entries: u64, bits: Bits, per_mille: u64) -> Vec<(u64, StatusValue)> {
    let mut rng = SplitMix(per_mille ^ u64::from(bits.get()) << 32);
    let n = entries * per_mille / 1000;
    (0..n)
        .map(|i| {
            let v = if bits == Bits::Two && i % 10 == 0 { StatusValue::Suspended } else { StatusValue::Invalid };
            (rng.next() % entries, v)
        })
        .collect()
}

fn build(entries: u64, bits: Bits, rows: &[(u64, StatusValue)]) -> StatusList {
    let mut list = StatusList::new(bits, entries);
    for &(idx, v) in rows {
        list.set(idx, v).unwrap();
    }
    list
}

struct Fixture {
    key: SoftwareSigner,
    header: JwsHeader,
    resolver: StaticKeyResolver,
}

impl Fixture {
    fn new() -> Self {
        let key = SoftwareSigner::generate().unwrap();
        let header = JwsHeader::new(key.alg()).with_kid(Some("status-key".into()));
        let resolver = StaticKeyResolver::any_issuer(key.public_jwk());
        Self { key, header, resolver }
    }

    fn token(&self, list: StatusList) -> StatusListToken {
        StatusListToken { list, uri: URI.into(), iss: None, iat: NOW, exp: Some(NOW.plus(86_400)), ttl: Some(3_600), aggregation_uri: None }
    }
}

fn bits_name(bits: Bits) -> String {
    format!("{}bit", bits.get())
}

fn secs(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

/// One run per (bits, share): the size on the wire and single-shot times.
fn size_table(f: &Fixture, entries: u64) {
    println!("\nToken Status List, {entries} entries, non-zero entries uniformly random; JWS bound {MAX_JWS_LEN} bytes");
    println!("| bits | non-zero | raw bytes | ZLIB bytes | token bytes | within JWS bound | build | compress | compress+sign | verify+lookup |");
    println!("| ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |");
    for bits in [Bits::One, Bits::Two] {
        for per_mille in [1, 10, 100] {
            let rows = sparse(entries, bits, per_mille);
            let t = Instant::now();
            let list = build(entries, bits, &rows);
            let built = t.elapsed();
            let raw = list.as_bytes().len();
            let t = Instant::now();
            let lst = list.to_lst();
            let compressed = t.elapsed();
            let t = Instant::now();
            let jwt = f.token(list).sign(&f.header, &f.key).unwrap();
            let signed = t.elapsed();
            // `lst` is unpadded base64url of the ZLIB bytes: 6 bits per character.
            let zlib = lst.len() * 6 / 8;
            let fits = jwt.len() <= MAX_JWS_LEN;
            let reference = StatusReference { idx: rows[0].0, uri: URI.into() };
            let t = Instant::now();
            let verified = StatusListToken::verify(&jwt, &reference, &f.resolver, NOW, 60, DEFAULT_MAX_DECOMPRESSED);
            let looked = verified.as_ref().map(|v| v.lookup(reference.idx));
            let verify = t.elapsed();
            let verify = match looked {
                Ok(Ok(v)) => {
                    assert_ne!(v, StatusValue::Valid);
                    secs(verify)
                }
                Ok(Err(e)) => panic!("lookup: {e}"),
                Err(e) => format!("refused: {e}"),
            };
            println!(
                "| {} | {:.1} % | {raw} | {zlib} | {} | {} | {} | {} | {} | {verify} |",
                bits.get(),
                per_mille as f64 / 10.0,
                jwt.len(),
                if fits { "yes" } else { "no" },
                secs(built),
                secs(compressed),
                secs(signed),
            );
        }
    }
    println!();
}

fn benches(c: &mut Criterion, f: &Fixture) {
    for bits in [Bits::One, Bits::Two] {
        let rows = sparse(ENTRIES, bits, TIMED_PER_MILLE);
        let name = bits_name(bits);
        let list = build(ENTRIES, bits, &rows);
        let lst = list.to_lst();
        let jwt = f.token(list.clone()).sign(&f.header, &f.key).unwrap();
        let idx = rows[0].0;

        let mut g = c.benchmark_group("status_list_50M");
        g.sample_size(10).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(4));
        g.bench_function(BenchmarkId::new("build", &name), |b| b.iter(|| build(ENTRIES, bits, black_box(&rows))));
        let mut updated = list.clone();
        let mut i = 0u64;
        g.bench_function(BenchmarkId::new("update_one", &name), |b| {
            b.iter(|| {
                i = (i + 7_919) % ENTRIES;
                updated.set(black_box(i), StatusValue::Invalid).unwrap();
            });
        });
        g.bench_function(BenchmarkId::new("compress", &name), |b| b.iter(|| black_box(&list).to_lst()));
        g.bench_function(BenchmarkId::new("sign", &name), |b| {
            b.iter(|| f.token(black_box(&list).clone()).sign(&f.header, &f.key).unwrap());
        });
        g.bench_function(BenchmarkId::new("decode_lookup", &name), |b| {
            b.iter(|| decode_lst(black_box(&lst), bits, DEFAULT_MAX_DECOMPRESSED).unwrap().get(idx).unwrap());
        });
        if jwt.len() <= MAX_JWS_LEN {
            let reference = StatusReference { idx, uri: URI.into() };
            g.bench_function(BenchmarkId::new("verify_lookup", &name), |b| {
                b.iter(|| {
                    StatusListToken::verify(black_box(&jwt), &reference, &f.resolver, NOW, 60, DEFAULT_MAX_DECOMPRESSED)
                        .unwrap()
                        .lookup(idx)
                        .unwrap()
                });
            });
        }
        g.finish();
    }
}

fn main() {
    let f = Fixture::new();
    let mut c = Criterion::default().configure_from_args();
    size_table(&f, ENTRIES);
    size_table(&f, SHARD);
    benches(&mut c, &f);
    c.final_summary();
}
