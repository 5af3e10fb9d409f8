//! `tessera sd-jwt issue|present|verify`.

use serde_json::{Map, Value};
use wallet_core::jose::Signer as _;
use wallet_core::sd_jwt::{ClaimPath, KeyBindingInput, SdJwt, StaticKeyResolver, Verifier};
use wallet_core::time::UnixTime;
use wallet_core::vc::{self, METADATA_CLAIMS, SdJwtVcBuilder, Vct};

use crate::keys::{load_public, load_signer};
use crate::{CliError, read_file, read_stdin};

#[derive(clap::Subcommand)]
pub(crate) enum SdJwtCommand {
    /// Issue an SD-JWT VC; prints it.
    Issue(IssueArgs),
    /// Make a presentation with a KB-JWT from an issued SD-JWT read on stdin.
    Present(PresentArgs),
    /// Verify a presentation read on stdin; prints the verified claims as JSON.
    Verify(VerifyArgs),
}

#[derive(clap::Args)]
pub(crate) struct IssueArgs {
    /// The issuer's private key (JWK).
    #[arg(long)]
    issuer_key: String,
    /// The holder's public key (JWK), put in `cnf.jwk`.
    #[arg(long)]
    holder_key: String,
    /// A JSON object of claims. IT-Wallet metadata claims (issuing_authority, sub, ...) stay
    /// visible; the others are the user attributes.
    #[arg(long)]
    claims: String,
    /// The credential type, e.g. urn:eudi:pid:it:1.
    #[arg(long)]
    vct: String,
    /// Only these claims are selectively disclosable (comma-separated; `a.b` and `a.0` for
    /// nested claims and array elements). Default: every top-level attribute.
    #[arg(long, value_delimiter = ',')]
    sd: Option<Vec<String>>,
    /// `iss`.
    #[arg(long, default_value = "https://issuer.tessera.localhost")]
    iss: String,
    /// `kid` header (default: the key's own kid, else its RFC 7638 thumbprint).
    #[arg(long)]
    kid: Option<String>,
    /// Token Status List URI for `status.status_list.uri`.
    #[arg(long, requires = "status_idx")]
    status_uri: Option<String>,
    /// Index in the status list.
    #[arg(long, requires = "status_uri")]
    status_idx: Option<u64>,
    /// Validity in seconds from now (`exp`).
    #[arg(long, default_value_t = 365 * 86_400)]
    exp: i64,
}

#[derive(clap::Args)]
pub(crate) struct PresentArgs {
    /// The holder's private key (JWK).
    #[arg(long)]
    holder_key: String,
    /// The verifier (`aud` of the KB-JWT).
    #[arg(long)]
    aud: String,
    /// The verifier's nonce.
    #[arg(long)]
    nonce: String,
    /// Claims to disclose (comma-separated paths); all when absent.
    #[arg(long, value_delimiter = ',')]
    disclose: Option<Vec<String>>,
}

#[derive(clap::Args)]
pub(crate) struct VerifyArgs {
    /// The issuer's public key (JWK).
    #[arg(long)]
    issuer_jwk: String,
    /// Require a KB-JWT for this audience.
    #[arg(long, requires = "nonce")]
    aud: Option<String>,
    /// Require a KB-JWT with this nonce.
    #[arg(long, requires = "aud")]
    nonce: Option<String>,
}

pub(crate) fn run(c: SdJwtCommand) -> Result<(), CliError> {
    match c {
        SdJwtCommand::Issue(a) => issue(a),
        SdJwtCommand::Present(a) => present(a),
        SdJwtCommand::Verify(a) => verify(a),
    }
}

fn paths(list: &[String]) -> Vec<ClaimPath> {
    list.iter().filter(|s| !s.is_empty()).map(|s| ClaimPath::parse_dotted(s.trim())).collect()
}

fn issue(a: IssueArgs) -> Result<(), CliError> {
    let issuer = load_signer(&a.issuer_key)?;
    let holder = load_public(&a.holder_key)?;
    let claims: Value = serde_json::from_str(&read_file(&a.claims)?)
        .map_err(|e| CliError::Usage(format!("{}: not JSON: {e}", a.claims)))?;
    let Value::Object(claims) = claims else {
        return Err(CliError::Usage(format!("{}: must be a JSON object", a.claims)));
    };
    let (metadata, attributes): (Map<String, Value>, Map<String, Value>) =
        claims.into_iter().partition(|(k, _)| METADATA_CLAIMS.contains(&k.as_str()));
    let now = UnixTime::now();
    let mut b = SdJwtVcBuilder::new(a.iss, Vct::new(a.vct)?, attributes)
        .validity(now, now.plus(a.exp))
        .holder_key(&holder)
        .kid(a.kid.or_else(|| issuer.kid()).unwrap_or_default());
    for (k, v) in metadata {
        if matches!(k.as_str(), "iss" | "vct" | "cnf" | "iat" | "exp") {
            return Err(CliError::Usage(format!("claim `{k}` is set by the command's options, not by the claims file")));
        }
        b = b.metadata(&k, v);
    }
    if let (Some(uri), Some(idx)) = (a.status_uri, a.status_idx) {
        b = b.status(idx, uri);
    }
    if let Some(sd) = a.sd {
        b = b.only_disclosable(paths(&sd));
    }
    println!("{}", b.sign(&issuer)?.serialize());
    Ok(())
}

fn present(a: PresentArgs) -> Result<(), CliError> {
    let holder = load_signer(&a.holder_key)?;
    let sd = SdJwt::parse(&read_stdin()?)?;
    let kb = KeyBindingInput { aud: a.aud, nonce: a.nonce, iat: UnixTime::now() };
    let selection = a.disclose.as_deref().map(paths);
    println!("{}", sd.present(selection.as_deref(), &kb, &holder)?);
    Ok(())
}

fn verify(a: VerifyArgs) -> Result<(), CliError> {
    let key = load_public(&a.issuer_jwk)?;
    let resolver = StaticKeyResolver::any_issuer(key);
    let mut verifier = Verifier::new(&resolver);
    if let (Some(aud), Some(nonce)) = (a.aud.as_deref(), a.nonce.as_deref()) {
        verifier = verifier.expect_key_binding(aud, nonce);
    }
    let verified = vc::verify(&verifier, &read_stdin()?, UnixTime::now()).map_err(CliError::Verify)?;
    let out = serde_json::to_string_pretty(&verified.sd_jwt.claims).unwrap_or_default();
    println!("{out}");
    Ok(())
}
