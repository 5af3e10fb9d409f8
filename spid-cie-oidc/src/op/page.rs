//! The login page: plain HTML, no script. Its field names are a contract with the
//! command-line wallet that drives it (see `spid-cie-oidc/README.md`): a form posting to
//! `<op>/login` with `session` (hidden), `fiscal_number` (one radio per identity) and `acr`
//! (a select of the three levels, the requested one preselected).

use super::OpState;
use crate::claims::Acr;

use service_kit::html::esc;

/// The page for a validated request: identities, levels, the opaque session.
pub fn login_page(st: &OpState, session: &str, requested: &[Acr]) -> String {
    let preselected = requested.first().copied().unwrap_or(Acr::SpidL2);
    let mut ids = String::new();
    for (n, i) in st.inner.config.identities.iter().enumerate() {
        ids.push_str(&format!(
            "<label><input type=\"radio\" name=\"fiscal_number\" value=\"{}\"{}> {} {} ({}, born {})</label><br>\n",
            esc(&i.fiscal_number),
            if n == 0 { " checked" } else { "" },
            esc(&i.given_name),
            esc(&i.family_name),
            esc(&i.fiscal_number),
            esc(&i.birthdate),
        ));
    }
    let mut levels = String::new();
    for a in Acr::ALL {
        levels.push_str(&format!(
            "<option value=\"{}\"{}>{}</option>\n",
            a.as_str(),
            if a == preselected { " selected" } else { "" },
            a.as_str().rsplit('/').next().unwrap_or_default(),
        ));
    }
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{org}: test login</title></head>\n<body>\n\
         <h1>{org}</h1>\n<p>Test OpenID Provider (SPID/CIE profile). Pick a test identity and a level.</p>\n\
         <form method=\"post\" action=\"{action}\">\n<input type=\"hidden\" name=\"session\" value=\"{session}\">\n\
         <fieldset><legend>Identity</legend>\n{ids}</fieldset>\n\
         <p><label>Level <select name=\"acr\">\n{levels}</select></label></p>\n\
         <button type=\"submit\">Log in and consent</button>\n</form>\n</body></html>\n",
        org = esc(&st.inner.config.organization_name),
        action = esc(&st.endpoint("login")),
        session = esc(session),
    )
}
