//! `tessera inspect`: decode without verifying, for people reading tokens.

use serde_json::Value;
use wallet_core::jose::{CompactJws, b64};
use wallet_core::sd_jwt::SdJwt;

use crate::{CliError, read_stdin};

pub(crate) fn run() -> Result<(), CliError> {
    let input = read_stdin()?;
    crate::print_out(describe(&input)?.trim_end());
    Ok(())
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

fn jwt_section(title: &str, jwt: &str, out: &mut String) -> Result<(), CliError> {
    let parts: Vec<&str> = jwt.split('.').collect();
    if parts.len() == 5 {
        let header = parts.first().and_then(|h| b64::decode(h).ok()).and_then(|b| serde_json::from_slice::<Value>(&b).ok());
        out.push_str(&format!("== {title} (JWE, encrypted) ==\nheader: {}\n", header.map(|h| pretty(&h)).unwrap_or_default()));
        return Ok(());
    }
    let jws = CompactJws::parse(jwt)?;
    let header: Value = parts.first().and_then(|h| b64::decode(h).ok()).and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or(Value::Null);
    let payload: Value = serde_json::from_slice(jws.payload()).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(jws.payload()).into_owned()));
    out.push_str(&format!(
        "== {title} ==\nheader: {}\npayload: {}\nsignature: {} bytes (not verified)\n",
        pretty(&header),
        pretty(&payload),
        jws.signature().len()
    ));
    Ok(())
}

/// The readable form of a token.
pub(crate) fn describe(input: &str) -> Result<String, CliError> {
    let mut out = String::new();
    if !input.contains('~') {
        let header = input.split('.').next().and_then(|h| b64::decode(h).ok()).and_then(|b| serde_json::from_slice::<Value>(&b).ok());
        let typ = header.as_ref().and_then(|h| h.get("typ")).and_then(Value::as_str).unwrap_or("JWT").to_owned();
        jwt_section(&typ, input, &mut out)?;
        return Ok(out);
    }
    let sd = SdJwt::parse(input)?;
    jwt_section("issuer-signed JWT", sd.issuer_jwt(), &mut out)?;
    out.push_str(&format!("== disclosures ({}) ==\n", sd.disclosures().len()));
    for d in sd.disclosures() {
        let what = match d.name() {
            Some(n) => format!("{n}: {}", d.value()),
            None => format!("[array element] {}", d.value()),
        };
        out.push_str(&format!("- {what}\n  digest: {}\n  salt:   {}\n", d.digest(), d.salt()));
    }
    if let Some(kb) = sd.kb_jwt() {
        jwt_section("KB-JWT", kb, &mut out)?;
    }
    Ok(out)
}
