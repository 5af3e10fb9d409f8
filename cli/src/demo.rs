//! `tessera demo`: the credential core end to end, in one process, narrated. A PID is issued,
//! kept in the encrypted wallet store, presented with selective disclosure and key binding,
//! verified with its status, then suspended and refused.

use serde_json::json;
use wallet_core::jose::{JwsAlg, JwsHeader, Signer as _, SoftwareSigner};
use wallet_core::sd_jwt::{ClaimPath, KeyBindingInput, SdJwt, StaticKeyResolver, Verifier};
use wallet_core::status::{Bits, DEFAULT_MAX_DECOMPRESSED, StatusList, StatusListToken, StatusValue};
use wallet_core::store::{CredentialStore, FileKeyProvider, NewCredential, NewTransaction, TransactionKind};
use wallet_core::time::UnixTime;
use wallet_core::vc::{self, CredentialModel, SdJwtVcBuilder, pid};

use crate::CliError;

#[derive(clap::Args)]
pub(crate) struct DemoArgs {
    /// Where the wallet's store is kept (default: a new temporary directory).
    #[arg(long)]
    data_dir: Option<String>,
}

const PID_PROVIDER: &str = "https://pid.tessera.localhost";
const STATUS_URI: &str = "https://pid.tessera.localhost/status/1";
const VERIFIER: &str = "https://police.tessera.localhost";

fn step(n: u8, text: &str) {
    println!("\n[{n}] {text}");
}

pub(crate) fn run(a: &DemoArgs) -> Result<(), CliError> {
    let tmp;
    let dir = match &a.data_dir {
        Some(d) => std::path::PathBuf::from(d),
        None => {
            tmp = std::env::temp_dir().join(format!("tessera-demo-{}", std::process::id()));
            tmp.clone()
        }
    };
    std::fs::create_dir_all(&dir).map_err(|source| CliError::Io { path: dir.display().to_string(), source })?;
    let now = UnixTime::now();

    step(1, "The PID provider and the citizen's wallet generate their P-256 keys.");
    let issuer = SoftwareSigner::generate()?;
    let holder = SoftwareSigner::generate()?;
    println!("    issuer kid {}", issuer.kid().unwrap_or_default());
    println!("    wallet kid {}", holder.kid().unwrap_or_default());

    step(2, "The PID provider issues Mario Rossi's PID (urn:eudi:pid:it:1) as an SD-JWT VC bound to the wallet key.");
    let mario = pid::Pid {
        given_name: "Mario".into(),
        family_name: "Rossi".into(),
        birthdate: "1980-01-10".into(),
        place_of_birth: pid::PlaceOfBirth { locality: Some("Roma".into()), country: Some("IT".into()), region: None },
        nationalities: vec!["IT".into()],
        personal_administrative_number: None,
        tax_id_code: Some("TINIT-RSSMRA80A10H501A".into()),
    };
    let issued = SdJwtVcBuilder::new(PID_PROVIDER, pid::Pid::vct(), mario.to_attributes()?)
        .validity(now, now.plus(365 * 86_400))
        .holder_key(&holder.public_jwk())
        .status(7, STATUS_URI)
        .metadata("issuing_authority", json!("Tessera demo PID provider"))
        .metadata("issuing_country", json!("IT"))
        .metadata("verification", json!({"trust_framework": "it_cie", "assurance_level": "high"}))
        .decoys(2)
        .sign(&issuer)?;
    println!("    {} disclosures, {} bytes", issued.disclosures().len(), issued.serialize().len());

    step(3, "The wallet keeps it in its encrypted store (AES-256-GCM, SQLite).");
    let store_err = |e: wallet_core::store::StoreError| CliError::Usage(format!("wallet store: {e}"));
    let store = CredentialStore::open(dir.join("wallet.db"), &FileKeyProvider::new(dir.join("wallet.key"))).map_err(store_err)?;
    let id = store
        .put(
            &NewCredential {
                format: vc::TYP.into(),
                vct: pid::Pid::vct().to_string(),
                issuer: PID_PROVIDER.into(),
                issued_at: Some(now),
                expires_at: Some(now.plus(365 * 86_400)),
                credential: issued.serialize(),
                metadata: json!({"display": "Identità digitale"}),
            },
            now,
        )
        .map_err(store_err)?;
    println!("    stored as {id} in {}", dir.join("wallet.db").display());

    step(4, "A police officer's verifier asks for name and birth date; the wallet discloses only those, with a KB-JWT.");
    let stored = SdJwt::parse(&store.get(&id).map_err(store_err)?.credential)?;
    let wanted = ["given_name", "family_name", "birthdate"].map(ClaimPath::key);
    let nonce = "n-7f3a9c";
    let kb = KeyBindingInput { aud: VERIFIER.into(), nonce: nonce.into(), iat: now };
    let presentation = stored.present(Some(&wanted), &kb, &holder)?;
    store
        .log(&NewTransaction {
            at: now,
            kind: TransactionKind::Presentation,
            counterparty: VERIFIER.into(),
            credential_ids: vec![id.clone()],
            claims: wanted.iter().map(ToString::to_string).collect(),
        })
        .map_err(store_err)?;

    step(5, "The verifier checks the issuer signature, the disclosures, the key binding and the status list.");
    let trusted = StaticKeyResolver::for_issuer(issuer.public_jwk(), PID_PROVIDER);
    let verifier = Verifier::new(&trusted).expect_key_binding(VERIFIER, nonce);
    let verified = vc::verify(&verifier, &presentation, now).map_err(CliError::Verify)?;
    println!("    shown: {}", serde_json::Value::Object(verified.attributes()));
    let mut list = StatusList::new(Bits::Four, 1024);
    let sign_list = |list: &StatusList| {
        StatusListToken { list: list.clone(), uri: STATUS_URI.into(), iss: Some(PID_PROVIDER.into()), iat: now, exp: Some(now.plus(86_400)), ttl: Some(3600) }
            .sign(&JwsHeader::new(JwsAlg::Es256), &issuer)
    };
    let reference = verified.status.clone().ok_or_else(|| CliError::Usage("the PID has no status".into()))?;
    let check = |token: &str| {
        StatusListToken::verify(token, &reference, &trusted, now, 60, DEFAULT_MAX_DECOMPRESSED)
            .and_then(|l| l.lookup(reference.idx))
            .map_err(|e| CliError::Usage(format!("status: {e}")))
    };
    println!("    status: {}", check(&sign_list(&list)?)?.name());

    step(6, "The PID provider suspends the credential; the verifier's next check refuses it.");
    list.set(reference.idx, StatusValue::Suspended).map_err(|e| CliError::Usage(e.to_string()))?;
    let status = check(&sign_list(&list)?)?;
    println!("    status: {} -> presentation refused", status.name());

    step(7, "The wallet's transaction log shows what was shown to whom.");
    for t in store.transactions().map_err(store_err)? {
        println!("    #{} {:?} to {}: {}", t.seq, t.entry.kind, t.entry.counterparty, t.entry.claims.join(", "));
    }
    println!("\nDone. (Federation, issuance and presentation services come with the next issues.)");
    Ok(())
}
