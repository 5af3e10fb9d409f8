//! `tessera conformance run | coverage`: the IT-Wallet test plans (the `conformance` crate)
//! against a deployment at a URL, with live progress, JSON/JUnit/HTML reports, and the
//! coverage table of the test matrix.

use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;

use conformance::client::{Http, TIMEOUT};
use conformance::coverage;
use conformance::runner::{Progress, run as run_plan, select};
use conformance::{Plan, Target, Verdict};
use wallet_core::federation::EntityId;
use wallet_core::oid4vp::Profile;

use crate::CliError;
use crate::federation_cmd::usage;

#[derive(clap::Subcommand)]
pub(crate) enum ConformanceCommand {
    /// Run a test plan against a deployment; exits non-zero when a test fails.
    Run(Box<RunArgs>),
    /// The coverage of the IT-Wallet test matrix per plan: implemented, proven able to fail,
    /// not applicable (with why), not yet.
    Coverage {
        /// Every row with its status.
        #[arg(long)]
        detail: bool,
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(clap::Args)]
pub(crate) struct RunArgs {
    /// rp, issuer, federation or wallet-provider.
    #[arg(long)]
    plan: String,
    /// The deployment's entity id (its `/.well-known/openid-federation` is under it).
    #[arg(long)]
    target: String,
    /// it-wallet-1.4 (default) or it-wallet-1.3: what the target is expected to emit.
    #[arg(long, default_value = "it-wallet-1.4")]
    profile: String,
    /// Only these matrix ids (comma-separated).
    #[arg(long, value_delimiter = ',')]
    only: Option<Vec<String>>,
    /// Where to write report.json, junit.xml and report.html.
    #[arg(long)]
    report_dir: Option<PathBuf>,
    /// Federation plan: the subordinate to fetch (default: the first `/list` gives).
    #[arg(long)]
    subordinate: Option<String>,
    /// The federation's trust anchor (its keys read from its Entity Configuration): the rp
    /// plan validates the RP's trust chain to it.
    #[arg(long)]
    trust_anchor: Option<String>,
    /// rp plan: the base URL of the RP's integrator API (`POST {url}/sessions`; our verifier:
    /// its entity id).
    #[arg(long)]
    rp_sessions: Option<String>,
    /// rp plan: the integrator API's bearer token.
    #[arg(long, allow_hyphen_values = true)]
    rp_token: Option<String>,
    /// rp plan: the entity id of a credential issuer the RP trusts (a member of the federation
    /// whose `openid_credential_issuer.jwks` has the key of --rp-issuer-key).
    #[arg(long)]
    rp_issuer: Option<String>,
    /// rp plan: that issuer's private signing key (a P-256 private JWK file).
    #[arg(long)]
    rp_issuer_key: Option<PathBuf>,
    /// issuer plan: the base URL of the issuer's admin API for pre-authorized offers
    /// (`POST {url}/admin/offers`; our issuer: its entity id).
    #[arg(long)]
    issuer_offers: Option<String>,
    /// issuer plan: the admin API's bearer token.
    #[arg(long, allow_hyphen_values = true)]
    issuer_token: Option<String>,
    /// issuer plan: a citizen whose credentials are ready (the offers' `citizen`).
    #[arg(long)]
    issuer_citizen: Option<String>,
    /// issuer plan: a citizen whose credential is not ready (deferred issuance, CI_081).
    #[arg(long)]
    issuer_deferred_citizen: Option<String>,
    /// issuer plan: the entity id of a wallet provider of the federation (its
    /// `wallet_solution.jwks` has the key of --wallet-provider-key); the tool signs WUAs as it.
    #[arg(long)]
    wallet_provider: Option<String>,
    /// issuer plan: that wallet provider's private attestation key (a P-256 private JWK file).
    #[arg(long)]
    wallet_provider_key: Option<PathBuf>,
    /// issuer plan: the entity id of a PID provider of the federation (its
    /// `openid_credential_issuer.jwks` has the key of --issuer-pid-provider-key): the tool
    /// presents PIDs signed as it when the issuer authenticates citizens with their PID
    /// (CI_054–CI_062).
    #[arg(long)]
    issuer_pid_provider: Option<String>,
    /// issuer plan: that PID provider's private signing key (a P-256 private JWK file).
    #[arg(long)]
    issuer_pid_provider_key: Option<PathBuf>,
    /// wallet-provider plan: a citizen's session token at the provider (what
    /// `POST /citizen/session` answers after a SPID/CIE login); without it the wallet rows
    /// (registration, attestation, retrieval, revocation) are skipped.
    #[arg(long)]
    wp_session: Option<String>,
    /// wallet-provider plan: another citizen's session token (the rows on another citizen's
    /// instance, WP_042 and WP_044).
    #[arg(long)]
    wp_other_session: Option<String>,
    /// wallet-provider plan: the private key (a P-256 private JWK file) of the software key
    /// attestation root the provider trusts; default: wallet-core's development root.
    #[arg(long)]
    wp_attestation_root: Option<PathBuf>,
    /// wallet-provider plan: the fiscal number of --wp-session's citizen (`TINIT-…`), for the
    /// PDND "Notify User Death" row (WP_008).
    #[arg(long)]
    wp_citizen: Option<String>,
    /// wallet-provider plan: the `iss` of the PDND vouchers the provider trusts (WP_008).
    #[arg(long)]
    wp_pdnd_issuer: Option<String>,
    /// wallet-provider plan: that voucher issuer's signing key (a P-256 private JWK file whose
    /// `kid` the provider knows).
    #[arg(long)]
    wp_pdnd_key: Option<PathBuf>,
    /// wallet-provider plan: the PDND `client_id` the provider allows (a PID Provider's).
    #[arg(long)]
    wp_pdnd_client_id: Option<String>,
    /// wallet-provider plan: the PDND `purposeId`, when the provider asks for one.
    #[arg(long)]
    wp_pdnd_purpose: Option<String>,
    /// rp and issuer plans: where the tool serves the status list of the PIDs it presents
    /// (default 127.0.0.1 on a free port: the target must run on this machine), e.g.
    /// `0.0.0.0:8099` for a target elsewhere (with --status-list-url).
    #[arg(long)]
    status_list_listen: Option<std::net::SocketAddr>,
    /// rp and issuer plans: the origin the target reaches --status-list-listen at (e.g.
    /// `https://conformance.example.it:8099`, behind a proxy of yours), named in the PIDs.
    #[arg(long)]
    status_list_url: Option<String>,
    /// Seconds per HTTP request.
    #[arg(long, default_value_t = TIMEOUT.as_secs())]
    timeout: u64,
}

pub(crate) fn run(c: ConformanceCommand) -> Result<(), CliError> {
    match c {
        ConformanceCommand::Run(a) => run_cmd(&a),
        ConformanceCommand::Coverage { detail, json } => {
            let cov = coverage::coverage();
            if json {
                crate::print_out(&serde_json::to_string_pretty(&cov).map_err(usage)?);
            } else {
                crate::print_out(coverage::summary_table(&cov).trim_end());
                if detail {
                    crate::print_out(coverage::detail(&cov).trim_end());
                }
            }
            Ok(())
        }
    }
}

fn run_cmd(a: &RunArgs) -> Result<(), CliError> {
    let plan: Plan = a.plan.parse().map_err(usage)?;
    let profile = Profile::parse(&a.profile).ok_or_else(|| usage(format!("unknown profile `{}` (it-wallet-1.3, it-wallet-1.4)", a.profile)))?;
    let mut target = Target::new(EntityId::new(a.target.trim_end_matches('/')).map_err(|e| usage(format!("--target: {e}")))?);
    target.profile = profile;
    if let Some(s) = &a.subordinate {
        target.subordinate = Some(EntityId::new(s.as_str()).map_err(|e| usage(format!("--subordinate: {e}")))?);
    }
    let http = Http::new(std::time::Duration::from_secs(a.timeout.max(1))).map_err(usage)?;
    match (a.status_list_listen, a.status_list_url.as_deref()) {
        (None, None) => {}
        (Some(listen), public) => conformance::status_list::configure(listen, public).map_err(usage)?,
        (None, Some(_)) => return Err(usage("--status-list-url needs --status-list-listen (the address it reaches)")),
    }
    if let Some(ta) = &a.trust_anchor {
        let id = EntityId::new(ta.trim_end_matches('/')).map_err(|e| usage(format!("--trust-anchor: {e}")))?;
        target.trust_anchor = Some(conformance::target::anchor_from_configuration(&http, &id).map_err(usage)?);
    }
    if let (Some(sessions), Some(token), Some(issuer), Some(key)) = (&a.rp_sessions, &a.rp_token, &a.rp_issuer, &a.rp_issuer_key) {
        let issuer = conformance::target::test_issuer(issuer, key).map_err(usage)?;
        eprintln!("the RP must trust the issuer {} (a member of the federation of {})", issuer.id, a.trust_anchor.as_deref().unwrap_or("its trust anchor"));
        target.rp = Some(conformance::target::RpSetup { sessions: sessions.clone(), token: token.clone(), issuer });
    } else if plan == Plan::Rp {
        return Err(usage("the rp plan needs --rp-sessions, --rp-token, --rp-issuer and --rp-issuer-key (and --trust-anchor)"));
    }
    if let (Some(offers), Some(token), Some(citizen), Some(wp), Some(key)) = (&a.issuer_offers, &a.issuer_token, &a.issuer_citizen, &a.wallet_provider, &a.wallet_provider_key) {
        let wallet_provider = conformance::target::test_wallet_provider(wp, key).map_err(usage)?;
        let (citizen, deferred_citizen) = (citizen.clone(), a.issuer_deferred_citizen.clone());
        let pid_provider = match (&a.issuer_pid_provider, &a.issuer_pid_provider_key) {
            (Some(id), Some(key)) => Some(conformance::target::test_issuer(id, key).map_err(usage)?),
            (None, None) => None,
            _ => return Err(usage("--issuer-pid-provider and --issuer-pid-provider-key go together")),
        };
        target.issuer = Some(conformance::target::IssuerSetup { offers: offers.clone(), token: token.clone(), citizen, deferred_citizen, wallet_provider, pid_provider });
    } else if plan == Plan::Issuer {
        eprintln!("without --issuer-offers, --issuer-token, --issuer-citizen, --wallet-provider and --wallet-provider-key (and --trust-anchor) the protocol rows are skipped");
    }
    if let Some(session) = &a.wp_session {
        let attestation_root = match &a.wp_attestation_root {
            Some(f) => {
                let text = std::fs::read_to_string(f).map_err(|e| usage(format!("{}: {e}", f.display())))?;
                Some(wallet_core::jose::PrivateJwk::from_json(&text).map_err(|e| usage(format!("{}: {e}", f.display())))?)
            }
            None => None,
        };
        let pdnd = match (&a.wp_pdnd_issuer, &a.wp_pdnd_key, &a.wp_pdnd_client_id) {
            (Some(issuer), Some(key), Some(client_id)) => {
                let key = conformance::target::test_issuer(issuer, key).map_err(usage)?.key;
                Some(conformance::target::PdndClient { issuer: issuer.clone(), key, client_id: client_id.clone(), purpose_id: a.wp_pdnd_purpose.clone() })
            }
            _ => None,
        };
        target.wallet = Some(conformance::target::WalletSetup {
            session: session.clone(),
            other_session: a.wp_other_session.clone(),
            attestation_root,
            citizen: a.wp_citizen.clone(),
            pdnd,
        });
    } else if plan == Plan::WalletProvider {
        eprintln!("without --wp-session (and --wp-other-session) the wallet rows (registration, attestation, retrieval, revocation) are skipped");
    }
    let cases = select(plan, a.only.as_deref()).map_err(usage)?;
    if cases.is_empty() {
        return Err(usage(format!("the {plan} plan has no test yet (see `tessera conformance coverage`)")));
    }
    let tty = std::io::stderr().is_terminal();
    let mut counts = conformance::report::Counts::default();
    let mut total = 0;
    let report = run_plan(plan, &cases, &target, &http, |p| match p {
        Progress::Started { total: t } => {
            total = t;
            eprintln!("{plan} plan against {} ({} tests, {})", target.entity_id, t, target.profile.as_str());
        }
        Progress::Running { id, index } if tty => {
            eprint!("\r\x1b[2K{} {id}", bar(index, total, counts));
            let _ = std::io::stderr().flush();
        }
        Progress::Running { .. } => {}
        Progress::Finished(r) => {
            counts.add(&r.verdict);
            let line = match &r.verdict {
                Verdict::Passed => None,
                Verdict::Failed(why) => Some(format!("FAIL {} {}: {why} ({})", r.id, r.title, r.spec_ref)),
                Verdict::Skipped(why) => Some(format!("skip {} {}: {why}", r.id, r.title)),
            };
            if tty {
                eprint!("\r\x1b[2K");
            }
            if let Some(l) = line {
                eprintln!("{l}");
            } else if !tty {
                eprintln!("pass {} {}", r.id, r.title);
            }
        }
    });
    if tty {
        eprintln!("\r\x1b[2K{}", bar(total, total, counts));
    }
    let c = report.counts();
    crate::print_out(&format!("{plan} plan: {} passed, {} failed, {} skipped of {}", c.passed, c.failed, c.skipped, report.results.len()));
    if let Some(dir) = &a.report_dir {
        let files = report.write_to(dir).map_err(usage)?;
        for f in files {
            crate::print_out(&format!("  {}", f.display()));
        }
    }
    if report.passed() { Ok(()) } else { Err(usage(format!("{} test(s) failed", c.failed))) }
}

/// `[#####-----] 12/25 ✓10 ✗1 ~1`.
fn bar(done: usize, total: usize, c: conformance::report::Counts) -> String {
    const WIDTH: usize = 24;
    let filled = (done * WIDTH).checked_div(total).unwrap_or(WIDTH);
    format!("[{}{}] {done}/{total} passed {} failed {} skipped {}", "#".repeat(filled), "-".repeat(WIDTH - filled.min(WIDTH)), c.passed, c.failed, c.skipped)
}
