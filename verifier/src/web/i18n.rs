//! Every string of the page, in Italian (the default) and English, from one table: a
//! [`Msg`] has both texts or the crate does not compile.

/// A language of the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// Italiano (default).
    #[default]
    It,
    /// English.
    En,
}

impl Lang {
    /// `it` / `en` (the `lang` attribute, `?lang=`, the cookie).
    pub fn code(self) -> &'static str {
        match self {
            Self::It => "it",
            Self::En => "en",
        }
    }

    /// Parses [`Lang::code`].
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "it" => Some(Self::It),
            "en" => Some(Self::En),
            _ => None,
        }
    }

    /// The other language (the switch).
    pub fn other(self) -> Self {
        match self {
            Self::It => Self::En,
            Self::En => Self::It,
        }
    }

    /// A message in this language.
    pub fn t(self, m: Msg) -> &'static str {
        m.text(self)
    }
}

macro_rules! messages {
    ($($key:ident => $it:expr, $en:expr;)*) => {
        /// A message of the page.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[allow(missing_docs)]
        pub enum Msg { $($key),* }

        impl Msg {
            /// The text in `lang`.
            pub fn text(self, lang: Lang) -> &'static str {
                match (self, lang) {
                    $((Self::$key, Lang::It) => $it, (Self::$key, Lang::En) => $en,)*
                }
            }
        }
    };
}

messages! {
    Title => "Verifica in presenza", "In-person check";
    SwitchLang => "English", "Italiano";
    TestBanner => "DATI DI TEST: federazione di prova, nessun valore legale", "TEST DATA: test federation, no legal value";
    Username => "Nome utente", "Username";
    Password => "Password", "Password";
    LogIn => "Accedi", "Log in";
    LogOut => "Esci", "Log out";
    LoginFailed => "Nome utente o password non corretti.", "Wrong username or password.";
    LoginLimited => "Troppi tentativi: riprova tra un minuto.", "Too many attempts: try again in a minute.";
    LoggedInAs => "Operatore", "Operator";
    ChooseCheck => "Scegli la verifica", "Choose a check";
    PresetAge => "Età superiore a 18 anni", "Age over 18";
    PresetAgeHint => "Solo la risposta: maggiorenne sì o no", "Only the answer: over 18 or not";
    PresetMdl => "Controllo patente", "Driving licence check";
    PresetMdlHint => "Foto, nome, numero, scadenza, categorie, stato", "Portrait, names, number, expiry, categories, status";
    PresetPid => "Identità (PID)", "Identity (PID)";
    PresetPidHint => "Dati anagrafici e codice fiscale", "Personal data and tax code";
    PresetEhic => "Tessera sanitaria", "Health card";
    PresetEhicHint => "Tessera europea di assicurazione malattia", "European health insurance card";
    PresetRaw => "Richiesta personalizzata", "Custom request";
    ExpertQuery => "Richiesta per esperti (DCQL)", "Expert request (DCQL)";
    ExpertQueryHint => "Una query DCQL (OpenID4VP 1.0 §6) in JSON: il portafoglio mostra al cittadino esattamente ciò che chiede.", "A DCQL query (OpenID4VP 1.0 §6) as JSON: the wallet shows the citizen exactly what it asks.";
    StartExpert => "Avvia la verifica", "Start the check";
    BadQuery => "Query DCQL non valida", "Invalid DCQL query";
    TrustConfig => "Di chi si fida questa verifica", "Whom this verifier trusts";
    TrustConfigHint => "Un emittente è accettato solo se la sua catena di fiducia arriva a uno di questi trust anchor e la federazione gli permette di emettere quel tipo di credenziale.", "An issuer is accepted only when its trust chain reaches one of these trust anchors and the federation allows it to issue that type of credential.";
    TrustAnchors => "Trust anchor", "Trust anchors";
    AnchorKeys => "chiavi fissate", "pinned keys";
    CaRoots => "Radici CA della federazione (x5c)", "Federation CA roots (x5c)";
    RequiredIssuerMarks => "Marchi di fiducia richiesti agli emittenti (uno tra)", "Trust marks required of issuers (one of)";
    NoneConfigured => "nessuna", "none";
    StatusCheck => "Verifica dello stato (Token Status List)", "Status check (Token Status List)";
    CrlCheck => "Verifica delle CRL dei certificati", "Certificate CRL check";
    SuspendedAccepted => "Credenziali sospese accettate", "Suspended credentials accepted";
    ProfileLabel => "Profilo IT-Wallet", "IT-Wallet profile";
    MyChecks => "Le mie verifiche", "My checks";
    NoChecks => "Nessuna verifica recente.", "No recent checks.";
    Open => "Apri", "Open";
    ScanQr => "Inquadra il codice QR con l'app del portafoglio", "Scan the QR code with the wallet app";
    QrAlt => "Codice QR della richiesta di presentazione", "QR code of the presentation request";
    ExpiresIn => "Il codice scade tra", "The code expires in";
    NewQr => "Nuovo codice QR", "New QR code";
    Back => "Torna alle verifiche", "Back to checks";
    NewCheck => "Nuova verifica", "New check";
    StepWaiting => "In attesa della scansione", "Waiting for the scan";
    StepFetched => "Il portafoglio ha ricevuto la richiesta", "The wallet has the request";
    StepReceived => "Risposta ricevuta, verifica in corso", "Response received, checking";
    StepVerdict => "Esito", "Verdict";
    NoScript => "Aggiorna la pagina per vedere lo stato.", "Reload the page to see the state.";
    VerifiedTitle => "VERIFICATO", "VERIFIED";
    VerifiedText => "La credenziale è autentica, valida e presentata dal suo titolare.", "The credential is genuine, valid and presented by its holder.";
    RefusedTitle => "NON VALIDO", "REFUSED";
    DeclinedTitle => "NEGATO DAL CITTADINO", "DECLINED BY THE CITIZEN";
    DeclinedText => "Il cittadino non ha condiviso i dati richiesti.", "The citizen did not share the requested data.";
    WalletRefusedText => "Il portafoglio del cittadino non ha accettato questa richiesta di verifica. Crea un nuovo codice QR; se si ripete, segnala il motivo nel dettaglio.", "The citizen's wallet did not accept this verification request. Create a new QR code; if it happens again, report the reason in the details.";
    ExpiredTitle => "SESSIONE SCADUTA", "SESSION EXPIRED";
    ExpiredText => "Nessuna risposta prima della scadenza del codice. Crea un nuovo codice QR.", "No answer before the code expired. Create a new QR code.";
    UnknownTitle => "IMPOSSIBILE DETERMINARE", "CANNOT DETERMINE";
    AgeYesTitle => "MAGGIORENNE", "OVER 18";
    AgeYesText => "La persona ha almeno 18 anni (credenziale verificata).", "The person is at least 18 (verified credential).";
    AgeNoTitle => "NON MAGGIORENNE", "NOT OVER 18";
    AgeNoText => "La credenziale è valida ma la persona ha meno di 18 anni.", "The credential is valid but the person is under 18.";
    AgeUnknownText => "La data di nascita non è leggibile.", "The birth date cannot be read.";
    ReasonRevoked => "Credenziale revocata dall'emittente.", "Credential revoked by its issuer.";
    ReasonSuspended => "Credenziale sospesa dall'emittente.", "Credential suspended by its issuer.";
    ReasonExpired => "Credenziale scaduta.", "Credential expired.";
    ReasonNotYetValid => "Credenziale non ancora valida.", "Credential not yet valid.";
    ReasonUntrusted => "Emittente non riconosciuto dalla federazione.", "Issuer not trusted by the federation.";
    ReasonNotAllowed => "L'emittente non è autorizzato a rilasciare questo documento.", "The issuer may not issue this document.";
    ReasonSignature => "Firma dell'emittente non valida: credenziale alterata.", "Invalid issuer signature: tampered credential.";
    ReasonKeyBinding => "La credenziale non è stata presentata dal dispositivo del titolare.", "The credential was not presented by the holder's device.";
    ReasonInvalid => "Credenziale non valida o malformata.", "Invalid or malformed credential.";
    ReasonMismatch => "La risposta non corrisponde ai dati richiesti.", "The response does not match what was asked.";
    ReasonStatusUnavailable => "Lo stato della credenziale non è verificabile ora (elenco di stato non raggiungibile).", "The credential's status cannot be checked now (status list unreachable).";
    ReasonCertificateRevoked => "Il certificato di firma dell'emittente è stato revocato.", "The issuer's signing certificate has been revoked.";
    ReasonCertificateUnknown => "Non è possibile verificare ora il certificato dell'emittente (lista di revoca non raggiungibile).", "The issuer's certificate cannot be checked now (revocation list unreachable).";
    ReasonUnsupported => "Formato di credenziale non ancora supportato.", "Credential format not supported yet.";
    ReasonOther => "La verifica non è riuscita.", "The check failed.";
    Portrait => "Foto", "Portrait";
    Audit => "Dettagli della verifica", "Check details";
    Issuer => "Emittente", "Issuer";
    IssuerId => "Identificativo emittente", "Issuer id";
    Trust => "Fiducia", "Trust";
    TrustChain => "Catena di fiducia della federazione fino a", "Federation trust chain to";
    TrustX5c => "Certificato x5c della CA della federazione", "x5c certificate of the federation CA";
    ChainEntities => "Entità della catena", "Chain entities";
    TrustMark => "Marchio di fiducia", "Trust mark";
    IssuedBy => "rilasciato da", "issued by";
    CredentialType => "Tipo di credenziale", "Credential type";
    Validity => "Validità", "Validity";
    StatusList => "Elenco di stato", "Status list";
    StatusValid => "verificato: valida", "checked: valid";
    StatusSuspendedAccepted => "verificato: sospesa (accettata per policy)", "checked: suspended (accepted by policy)";
    StatusNone => "la credenziale non ha stato", "the credential has no status";
    StatusNotChecked => "non controllato", "not checked";
    KeyBinding => "Legame con il dispositivo", "Key binding";
    KeyBindingOk => "verificato (KB-JWT firmato dalla chiave del titolare, per questa sessione)", "checked (KB-JWT signed by the holder's key, for this session)";
    Profile => "Profilo", "Profile";
    Started => "Avviata", "Started";
    FetchedAt => "Richiesta letta dal portafoglio", "Request read by the wallet";
    CompletedAt => "Esito registrato", "Verdict recorded";
    Expires => "Scadenza richiesta", "Request expiry";
    Shown => "Esito mostrato", "Verdict shown";
    TechnicalReason => "Motivo tecnico", "Technical reason";
    CredentialQuery => "Richiesta", "Query";
    WalletError => "Risposta del portafoglio", "Wallet answer";
    Retention => "I dati del cittadino vengono cancellati automaticamente dopo", "The citizen's data is erased automatically after";
    Seconds => "secondi", "seconds";
    NotFound => "Verifica non trovata (inesistente, di un altro operatore, o già cancellata).", "Check not found (unknown, another operator's, or already erased).";
    Forbidden => "Richiesta rifiutata: modulo scaduto o di un'altra origine. Ricarica la pagina.", "Request refused: stale form or another origin. Reload the page.";
    StatusCreated => "in attesa", "waiting";
    StatusFetched => "richiesta scaricata", "request fetched";
    StatusReceived => "risposta ricevuta", "response received";
    StatusVerified => "verificato", "verified";
    StatusRefused => "non valido", "refused";
    StatusDeclined => "negato dal cittadino", "declined";
    StatusWalletRefused => "rifiutata dal portafoglio", "refused by the wallet";
    StatusExpired => "scaduto", "expired";
    Yes => "sì", "yes";
    No => "no", "no";
    ClaimGivenName => "Nome", "Given name";
    ClaimFamilyName => "Cognome", "Family name";
    ClaimBirthDate => "Data di nascita", "Birth date";
    ClaimPlaceOfBirth => "Luogo di nascita", "Place of birth";
    ClaimNationalities => "Cittadinanza", "Nationality";
    ClaimTaxId => "Codice fiscale", "Tax code";
    ClaimDocumentNumber => "Numero documento", "Document number";
    ClaimExpiryDate => "Scadenza documento", "Document expiry";
    ClaimIssueDate => "Data di rilascio", "Issue date";
    ClaimPrivileges => "Categorie di guida", "Driving privileges";
    ClaimAdminNumber => "Numero di identificazione personale", "Personal identification number";
    ClaimEndingDate => "Fine validità", "Valid until";
    ClaimAgeOver18 => "Maggiorenne", "Over 18";
    ClaimPrivilegeFrom => "dal", "from";
    ClaimPrivilegeUntil => "al", "until";
}

/// The label of a claim name, `None` for a name without one (shown as is).
pub fn claim_label(name: &str) -> Option<Msg> {
    Some(match name {
        "given_name" => Msg::ClaimGivenName,
        "family_name" => Msg::ClaimFamilyName,
        "birthdate" | "birth_date" => Msg::ClaimBirthDate,
        "place_of_birth" => Msg::ClaimPlaceOfBirth,
        "nationalities" | "nationality" => Msg::ClaimNationalities,
        "tax_id_code" => Msg::ClaimTaxId,
        "document_number" => Msg::ClaimDocumentNumber,
        "expiry_date" => Msg::ClaimExpiryDate,
        "issue_date" => Msg::ClaimIssueDate,
        "driving_privileges" => Msg::ClaimPrivileges,
        "personal_administrative_number" => Msg::ClaimAdminNumber,
        "ending_date" => Msg::ClaimEndingDate,
        "age_over_18" => Msg::ClaimAgeOver18,
        "portrait" => Msg::Portrait,
        _ => return None,
    })
}
