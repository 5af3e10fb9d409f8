//! `tessera up` and `tessera federation ...`: a federation on loopback, and its admin.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use trust_anchor::fetch::HttpFetcher;
use trust_anchor::{AppState, Config, router};
use wallet_core::federation::entity::ENTITY_STATEMENT_MEDIA_TYPE;
use wallet_core::federation::{ChainCollector, EntityId, Fetcher, ParsedStatement, TrustAnchorConfig};
use wallet_core::time::UnixTime;

use crate::CliError;


#[derive(clap::Subcommand)]
pub(crate) enum FederationCommand {
    /// Resolve an entity's trust chain to a trust anchor and print it with the resolved metadata.
    Resolve {
        /// The entity.
        entity: String,
        /// The trust anchor (its current configuration is fetched and trusted; see --ta-jwks).
        #[arg(long)]
        ta: String,
        /// Pin the trust anchor's keys from this JWK Set file instead of fetching them.
        #[arg(long)]
        ta_jwks: Option<PathBuf>,
        /// One JSON document: the chain's statements and the metadata by entity type.
        #[arg(long)]
        json: bool,
    },
    /// Onboard a subordinate at an authority: it fetches and checks its configuration and pins its keys.
    AddSubordinate {
        /// The subordinate's entity id.
        entity_id: String,
        /// Entity types it must have (repeatable).
        #[arg(long = "entity-type")]
        entity_type: Vec<String>,
        /// A metadata_policy JSON file to apply to it.
        #[arg(long)]
        policy: Option<PathBuf>,
        /// Claims about its organisation that its trust marks carry, `NAME=VALUE` (repeatable;
        /// IT-Wallet 1.4 §1.1 requires `organization_type=public|private` and `logo_uri`).
        #[arg(long = "trust-mark-claim", value_parser = claim_arg)]
        trust_mark_claims: Vec<(String, String)>,
        #[command(flatten)]
        admin: Admin,
    },
    /// Remove a subordinate.
    Remove {
        /// The subordinate's entity id.
        entity_id: String,
        #[command(flatten)]
        admin: Admin,
    },
    /// Issue a trust mark to a subordinate (`--type credential_issuer` becomes
    /// `<authority>/trust_marks/credential_issuer`); prints the mark.
    IssueTrustMark {
        /// The subordinate.
        sub: String,
        /// Short name or full type URL.
        #[arg(long = "type")]
        trust_mark_type: String,
        /// Validity in seconds.
        #[arg(long)]
        ttl: Option<i64>,
        /// Claims for this mark over those kept at onboarding, `NAME=VALUE` (repeatable; a
        /// VALUE starting with `[` or `{` is JSON: `authorized_claims=["given_name"]`).
        #[arg(long = "claim", value_parser = claim_arg)]
        claims: Vec<(String, String)>,
        #[command(flatten)]
        admin: Admin,
    },
    /// Revoke a subordinate's trust marks of a type.
    RevokeTrustMark {
        /// The subordinate.
        sub: String,
        /// Short name or full type URL.
        #[arg(long = "type")]
        trust_mark_type: String,
        #[command(flatten)]
        admin: Admin,
    },
    /// Roll over an entity's Federation Entity Key without breaking resolution: publish the
    /// next key, have the superior re-pin, then sign with it (the old key goes to historical keys).
    RotateKeys {
        /// The entity whose key rolls over.
        #[arg(long)]
        entity: String,
        /// Its superior, which re-pins the keys (none for a trust anchor).
        #[arg(long)]
        superior: Option<String>,
        /// The superior's admin token, when its operator is not the entity's (default:
        /// --token, else the superior's own from the data directory).
        #[arg(long, requires = "superior", allow_hyphen_values = true)]
        superior_token: Option<String>,
        #[command(flatten)]
        admin: Admin,
    },
    /// Run one federation entity: a trust anchor (no --authority-hint), an intermediate, or
    /// with --leaf a plain entity publishing its configuration. Stays up until Ctrl-C or
    /// SIGTERM.
    Serve {
        /// Its entity id (public base URL).
        #[arg(long)]
        entity_id: String,
        /// Where to listen.
        #[arg(long, default_value = "127.0.0.1:7600")]
        listen: String,
        /// Keys, registry and CA under this directory.
        #[arg(long)]
        data_dir: PathBuf,
        /// Superiors (repeatable); none for a trust anchor.
        #[arg(long = "authority-hint")]
        authority_hints: Vec<String>,
        /// A leaf: no fetch/list/trust mark endpoints.
        #[arg(long)]
        leaf: bool,
        /// `organization_name`.
        #[arg(long, default_value = "Tessera federation entity")]
        organization_name: String,
        /// Extra metadata to publish (a JSON object of entity types).
        #[arg(long)]
        metadata: Option<PathBuf>,
        /// Admin bearer token (default: <data-dir>/admin-token, created if absent).
        #[arg(long, allow_hyphen_values = true)]
        admin_token: Option<String>,
    },
    /// List an authority's subordinates.
    List {
        #[command(flatten)]
        admin: Admin,
    },
}

#[derive(clap::Args)]
pub(crate) struct Admin {
    /// The authority (default: the trust anchor of `tessera up`).
    #[arg(long, default_value = "http://127.0.0.1:7600")]
    authority: String,
    /// Its admin token (default: the service's own, read from the data directory). A token
    /// is base64url and may start with `-`: it is taken as the value, not as an option.
    #[arg(long, allow_hyphen_values = true)]
    token: Option<String>,
    /// The data directory of `tessera up` (each service's token is under its own
    /// directory there), or of the one `federation serve`.
    #[arg(long, default_value = "tessera-data")]
    data_dir: PathBuf,
}

pub(crate) fn usage(e: impl std::fmt::Display) -> CliError {
    CliError::Usage(e.to_string())
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(usage)
}

/// The admin token of the service that owns `data_dir`, created if there is none yet: for
/// the commands that start a service (`up`, `federation serve`). Created once, whole, 0600
/// (wallet-core `store::create_private`): two processes starting at once agree on one token,
/// and none reads a half-written file.
pub(crate) fn admin_token(data_dir: &Path) -> Result<String, CliError> {
    let path = data_dir.join("admin-token");
    if let Some(t) = existing_admin_token(data_dir)? {
        service_kit::files::keep_secret(&path);
        return Ok(t);
    }
    let io = |p: &Path| {
        let p = p.display().to_string();
        move |source| CliError::Io { path: p, source }
    };
    std::fs::create_dir_all(data_dir).map_err(io(data_dir))?;
    let mut b = [0u8; 24];
    getrandom_fill(&mut b)?;
    let token = wallet_core::jose::b64::encode(b);
    if wallet_core::store::create_private(&path, token.as_bytes()).map_err(io(&path))? {
        return Ok(token);
    }
    existing_admin_token(data_dir)?.ok_or_else(|| usage(format!("{} is empty", path.display())))
}

/// The admin token a running service created in `data_dir`: for the client commands, which
/// never create one (a token only the client knows would be refused by the service).
pub(crate) fn read_admin_token(data_dir: &Path) -> Result<String, CliError> {
    existing_admin_token(data_dir)?.ok_or_else(|| {
        usage(format!(
            "no admin token in {}: is the authority running with this --data-dir? (or pass --token)",
            data_dir.display()
        ))
    })
}

/// `NAME=VALUE` of `--claim` and `--trust-mark-claim`.
fn claim_arg(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("expected NAME=VALUE, not {s:?}")),
    }
}

/// `NAME=VALUE` claims as a JSON object: a value written as a JSON array or object (`[...]`,
/// `{...}`) is taken as JSON (an authorization-policy mark's `authorized_claims=["given_name"]`),
/// any other as a string.
fn claims_object(claims: Vec<(String, String)>) -> Result<Value, CliError> {
    let mut m = serde_json::Map::new();
    for (k, v) in claims {
        let value = if v.starts_with('[') || v.starts_with('{') {
            serde_json::from_str(&v).map_err(|e| usage(format!("--claim {k}: a value starting with [ or {{ is JSON: {e}")))?
        } else {
            Value::from(v)
        };
        m.insert(k, value);
    }
    Ok(Value::Object(m))
}

/// The file in which `tessera up` says which data directory each of its services uses.
pub(crate) const SERVICES_FILE: &str = "services.json";

/// The data directory of the service at `authority`: under the data directory of `tessera up`
/// (which lists its services in [`SERVICES_FILE`], each with its own admin token), or
/// `data_dir` itself (the data directory of one `federation serve`).
pub(crate) fn service_dir(data_dir: &Path, authority: &str) -> Result<PathBuf, CliError> {
    let listing = data_dir.join(SERVICES_FILE);
    let text = match std::fs::read_to_string(&listing) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(data_dir.to_path_buf()),
        Err(source) => return Err(CliError::Io { path: listing.display().to_string(), source }),
    };
    let services: std::collections::BTreeMap<String, String> =
        serde_json::from_str(&text).map_err(|e| usage(format!("{}: {e}", listing.display())))?;
    let sub = services
        .get(authority.trim_end_matches('/'))
        .ok_or_else(|| usage(format!("{authority} is not a service of the `tessera up` in {} (pass --token)", data_dir.display())))?;
    Ok(data_dir.join(sub))
}

fn existing_admin_token(data_dir: &Path) -> Result<Option<String>, CliError> {
    let path = data_dir.join("admin-token");
    match std::fs::read_to_string(&path) {
        Ok(t) if !t.trim().is_empty() => Ok(Some(t.trim().to_owned())),
        Ok(_) => Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(CliError::Io { path: path.display().to_string(), source }),
    }
}

fn getrandom_fill(b: &mut [u8]) -> Result<(), CliError> {
    getrandom::fill(b).map_err(|e| usage(format!("no randomness: {e}")))
}

fn serve_state(state: AppState, listen: &str, id: &EntityId) -> Result<(), CliError> {
    runtime()?.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| usage(format!("{listen}: {e}")))?;
        println!("{id} serving on {listen}: {}", id.configuration_url());
        // With peer addresses, for the per-client rate limits.
        service_kit::serve::serve(listener, router(state), service_kit::process::shutdown_signal()).await.map_err(usage)
    })
}

pub(crate) fn run(c: FederationCommand) -> Result<(), CliError> {
    match c {
        FederationCommand::Resolve { entity, ta, ta_jwks, json } => resolve(&entity, &ta, ta_jwks.as_deref(), json),
        FederationCommand::AddSubordinate { entity_id, entity_type, policy, trust_mark_claims, admin } => {
            let policy = match policy {
                Some(p) => serde_json::from_str::<Value>(&crate::read_file(&p.display().to_string())?).map_err(|e| usage(format!("{}: {e}", p.display())))?,
                None => Value::Null,
            };
            let claims = (!trust_mark_claims.is_empty()).then(|| claims_object(trust_mark_claims)).transpose()?;
            let body = json!({"entity_id": entity_id, "entity_types": entity_type, "metadata_policy": policy, "trust_mark_claims": claims});
            admin_call(&admin, reqwest::Method::POST, "admin/subordinates", Some(body))
        }
        FederationCommand::Remove { entity_id, admin } => {
            admin_call(&admin, reqwest::Method::DELETE, &wallet_core::wallet::query::with_params("admin/subordinates", &[("entity_id", &entity_id)]), None)
        }
        FederationCommand::List { admin } => admin_call(&admin, reqwest::Method::GET, "admin/subordinates", None),
        FederationCommand::Serve { entity_id, listen, data_dir, authority_hints, leaf, organization_name, metadata, admin_token: token } => {
            let id = EntityId::new(entity_id).map_err(usage)?;
            let token = match token {
                Some(t) => t,
                None => admin_token(&data_dir)?,
            };
            let mut config = Config::trust_anchor(id.clone(), data_dir, token);
            config.authority = !leaf;
            config.organization_name = organization_name;
            config.authority_hints = authority_hints.into_iter().map(EntityId::new).collect::<Result<_, _>>().map_err(usage)?;
            if let Some(p) = metadata {
                let v: Value = serde_json::from_str(&crate::read_file(&p.display().to_string())?).map_err(|e| usage(format!("{}: {e}", p.display())))?;
                config.metadata = v.as_object().cloned().ok_or_else(|| usage(format!("{}: must be a JSON object", p.display())))?;
            }
            if config.is_trust_anchor() {
                // A trust anchor resolves chains to itself.
                let key = trust_anchor::keys::load_or_create(&config.data_dir).map_err(usage)?;
                let jwks = wallet_core::jose::jwk::JwkSet { keys: vec![wallet_core::jose::Signer::public_jwk(&key)] };
                config.trust_anchors = vec![TrustAnchorConfig { id: id.clone(), jwks }];
            }
            serve_state(AppState::open(config).map_err(usage)?, &listen, &id)
        }
        FederationCommand::RotateKeys { entity, superior, superior_token, admin } => {
            let at = |authority: &str, token: &Option<String>| Admin { authority: authority.to_owned(), token: token.clone(), data_dir: admin.data_dir.clone() };
            admin_call(&at(&entity, &admin.token), reqwest::Method::POST, "admin/keys/prepare", None)?;
            if let Some(sup) = &superior {
                // Replicas of the entity take the prepared key up within RING_LOOK seconds:
                // the superior, which fetches the configuration from any of them, sees it then.
                std::thread::sleep(std::time::Duration::from_secs(trust_anchor::keys::RING_LOOK.unsigned_abs() + 1));
                let token = superior_token.or_else(|| admin.token.clone());
                admin_call(&at(sup, &token), reqwest::Method::POST, "admin/subordinates/refresh-keys", Some(json!({"entity_id": entity})))?;
                superior_pins_every_key(&entity, sup)?;
            }
            admin_call(&at(&entity, &admin.token), reqwest::Method::POST, "admin/keys/activate", None)
        }
        FederationCommand::IssueTrustMark { sub, trust_mark_type, ttl, claims, admin } => {
            let claims = (!claims.is_empty()).then(|| claims_object(claims)).transpose()?;
            let body = json!({"sub": sub, "trust_mark_type": trust_mark_type, "ttl": ttl, "claims": claims});
            admin_call(&admin, reqwest::Method::POST, "admin/trust-marks", Some(body))
        }
        FederationCommand::RevokeTrustMark { sub, trust_mark_type, admin } => admin_call(
            &admin,
            reqwest::Method::POST,
            "admin/trust-marks/revoke",
            Some(json!({"sub": sub, "trust_mark_type": trust_mark_type})),
        ),
    }
}

/// Before a rollover is activated: the superior's subordinate statement about `entity` (its
/// fetch endpoint) pins every key the entity's configuration publishes, the prepared one
/// included; otherwise activating would make the entity sign with a key nobody pinned.
fn superior_pins_every_key(entity: &str, superior: &str) -> Result<(), CliError> {
    let client = reqwest::blocking::Client::new();
    let get = |url: String| -> Result<Value, CliError> {
        let text = client.get(&url).send().and_then(reqwest::blocking::Response::error_for_status).and_then(reqwest::blocking::Response::text).map_err(|e| usage(format!("{url}: {e}")))?;
        wallet_core::jose::CompactJws::parse(text.trim()).and_then(|j| j.payload_json()).map_err(|e| usage(format!("{url}: {e}")))
    };
    let kids = |v: &Value| -> Vec<String> {
        v.pointer("/jwks/keys").and_then(Value::as_array).into_iter().flatten().filter_map(|k| k.get("kid").and_then(Value::as_str).map(str::to_owned)).collect()
    };
    let published = kids(&get(format!("{}/.well-known/openid-federation", entity.trim_end_matches('/')))?);
    let fetch = wallet_core::wallet::query::with_params(&format!("{}/fetch", superior.trim_end_matches('/')), &[("sub", entity)]);
    let pinned = kids(&get(fetch)?);
    let missing: Vec<&String> = published.iter().filter(|k| !pinned.contains(k)).collect();
    if !missing.is_empty() {
        return Err(usage(format!("{superior} does not pin {missing:?} of {entity} yet: not activated (the entity keeps signing with its current key); run the command again")));
    }
    Ok(())
}

fn admin_call(a: &Admin, method: reqwest::Method, path: &str, body: Option<Value>) -> Result<(), CliError> {
    let token = match &a.token {
        Some(t) => t.clone(),
        None => read_admin_token(&service_dir(&a.data_dir, &a.authority)?)?,
    };
    let base = a.authority.trim_end_matches('/');
    let client = reqwest::blocking::Client::new();
    let url = format!("{base}/{path}");
    let mut req = client.request(method.clone(), &url);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let what = format!("{method} {url}");
    let answer = crate::admin_args::send("entity", base, &what, &token, req)?.checked(None, "entity", base, &what)?;
    if !answer.text.is_empty() {
        crate::print_out(&answer.text);
    }
    Ok(())
}

fn resolve(entity: &str, ta: &str, ta_jwks: Option<&Path>, as_json: bool) -> Result<(), CliError> {
    let subject = EntityId::new(entity).map_err(usage)?;
    let ta_id = EntityId::new(ta).map_err(usage)?;
    let fetcher = HttpFetcher::new().map_err(usage)?;
    let jwks = match ta_jwks {
        Some(p) => serde_json::from_str(&crate::read_file(&p.display().to_string())?).map_err(|e| usage(format!("{}: {e}", p.display())))?,
        None => {
            let ec = ParsedStatement::parse(&fetcher.get(&ta_id.configuration_url(), ENTITY_STATEMENT_MEDIA_TYPE).map_err(usage)?).map_err(usage)?;
            ec.verify_with(&ec.claims.jwks).map_err(usage)?;
            ec.claims.jwks
        }
    };
    let anchors = [TrustAnchorConfig { id: ta_id, jwks }];
    let chain = ChainCollector::new(&fetcher, &anchors).resolve(&subject, UnixTime::now()).map_err(|e| usage(format!("resolution failed: {e}")))?;
    if as_json {
        let doc = json!({
            "subject": chain.subject.claims.sub,
            "trust_anchor": chain.trust_anchor,
            "exp": chain.exp.secs(),
            "trust_chain": chain.statements.iter().map(|s| json!({"jwt": s.jwt, "claims": s.claims})).collect::<Vec<_>>(),
            "metadata": chain.metadata,
        });
        crate::print_out(&serde_json::to_string_pretty(&doc).unwrap_or_default());
    } else {
        let mut out = format!("Trust chain of {} to {} (valid until {}):\n", chain.subject.claims.sub, chain.trust_anchor, chain.exp.secs());
        for (i, s) in chain.statements.iter().enumerate() {
            let kind = if s.claims.is_configuration() { "Entity Configuration" } else { "Subordinate Statement" };
            out.push_str(&format!("  [{i}] {kind}: {} -> {} (kid {})\n", s.claims.iss, s.claims.sub, s.kid));
        }
        out.push_str("Resolved metadata:");
        for (t, md) in &chain.metadata {
            out.push_str(&format!("\n  {t}: {}", serde_json::to_string_pretty(md).unwrap_or_default().replace('\n', "\n  ")));
        }
        crate::print_out(&out);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
    use super::*;

    /// An admin token is base64url: one in 64 starts with `-`. `--token` and
    /// `--superior-token` take it as the value (the e2e test `up_then_resolve_and_list` failed
    /// on such a token in a clean-clone CI run: "unexpected argument '-P' found").
    #[test]
    fn a_token_starting_with_a_hyphen_is_taken_as_the_token() {
        #[derive(clap::Parser)]
        struct Top {
            #[command(subcommand)]
            command: FederationCommand,
        }
        let parse = |args: &[&str]| <Top as clap::Parser>::try_parse_from(std::iter::once("tessera").chain(args.iter().copied())).map(|t| t.command);
        for token in ["-PxMHnbl7Br2_Ve1M3rDq9S3uqT6SXdwaIWc3mYAtYA", "--x", "plain"] {
            match parse(&["list", "--authority", "http://127.0.0.1:1", "--token", token]) {
                Ok(FederationCommand::List { admin }) => assert_eq!(admin.token.as_deref(), Some(token)),
                other => panic!("{token}: {:?}", other.err()),
            }
            match parse(&["rotate-keys", "--entity", "http://127.0.0.1:1", "--superior", "http://127.0.0.1:2", "--superior-token", token, "--token", token]) {
                Ok(FederationCommand::RotateKeys { superior_token, admin, .. }) => assert_eq!((superior_token.as_deref(), admin.token.as_deref()), (Some(token), Some(token))),
                other => panic!("{token}: {:?}", other.err()),
            }
        }
    }

    /// `federation serve` and `tessera up` starting while a client already polls: every
    /// process that creates the token agrees on one, and the file holds it whole.
    #[test]
    fn concurrent_creators_agree_on_one_token() {
        for _ in 0..20 {
            let dir = tempfile::tempdir().unwrap();
            let data = dir.path().join("data");
            let tokens: Vec<String> = std::thread::scope(|s| {
                let hs: Vec<_> = (0..8).map(|_| s.spawn(|| admin_token(&data).unwrap())).collect();
                hs.into_iter().map(|h| h.join().unwrap()).collect()
            });
            assert!(tokens.iter().all(|t| t == &tokens[0]), "{tokens:?}");
            assert_eq!(read_admin_token(&data).unwrap(), tokens[0]);
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt as _;
                let mode = std::fs::metadata(data.join("admin-token")).unwrap().permissions().mode();
                assert_eq!(mode & 0o777, 0o600);
            }
            let leftovers: Vec<_> = std::fs::read_dir(&data).unwrap().map(|e| e.unwrap().file_name()).collect();
            assert_eq!(leftovers, ["admin-token"]);
        }
    }

    /// A client never creates the token: without one it says where it looked.
    #[test]
    fn clients_only_read_the_token() {
        let dir = tempfile::tempdir().unwrap();
        let err = read_admin_token(dir.path()).unwrap_err().to_string();
        assert!(err.contains("no admin token in"), "{err}");
        assert!(!dir.path().join("admin-token").exists());
        std::fs::write(dir.path().join("admin-token"), "").unwrap();
        assert!(read_admin_token(dir.path()).is_err(), "an empty file is no token");
    }
}
