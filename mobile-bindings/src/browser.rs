//! The browser step of the authorization code flow (IT-Wallet 1.4 §3.3 step 5: the citizen's
//! SPID/CIE login at the PID provider's identity provider), implemented by the app: a Custom
//! Tab / `ASWebAuthenticationSession` opened on the issuer's URL, closed when it reaches the
//! wallet's `redirect_uri`. [`ForeignBrowser`] adapts it to wallet-core's `BrowserStep`,
//! keeping the app's typed error.

use std::sync::{Arc, Mutex, PoisonError};

use wallet_core::wallet::issuance as core;

/// Why the browser step did not come back with a redirect.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
#[non_exhaustive]
pub enum BrowserError {
    /// The citizen closed the browser.
    #[error("cancelled by the user")]
    Cancelled,
    /// The browser could not be opened, or the login failed on the page.
    #[error("the browser step failed: {reason}")]
    Failed {
        /// What failed.
        reason: String,
    },
}

impl From<uniffi::UnexpectedUniFFICallbackError> for BrowserError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        Self::Failed { reason: format!("the browser step threw: {}", e.reason) }
    }
}

/// The app's browser for the citizen's login. Called from a background thread; blocks until
/// the browser is back (or closed).
#[uniffi::export(with_foreign)]
pub trait BrowserStep: Send + Sync {
    /// Opens `url` and waits until the browser is sent to `redirect_uri` (same scheme, host
    /// and path): returns that URL, query included. Throw [`BrowserError::Cancelled`] when the
    /// citizen closes the browser.
    fn open(&self, url: String, redirect_uri: String) -> Result<String, BrowserError>;
}

/// wallet-core's `BrowserStep` over the app's, remembering the app's error.
pub(crate) struct ForeignBrowser {
    inner: Arc<dyn BrowserStep>,
    failure: Mutex<Option<BrowserError>>,
}

impl ForeignBrowser {
    pub(crate) fn new(inner: Arc<dyn BrowserStep>) -> Self {
        Self { inner, failure: Mutex::new(None) }
    }

    /// The app's error, if the last call failed in the browser.
    pub(crate) fn take_failure(&self) -> Option<BrowserError> {
        self.failure.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

impl core::BrowserStep for ForeignBrowser {
    fn open(&self, url: &str, redirect_uri: &str) -> Result<String, core::BrowserError> {
        self.inner.open(url.to_owned(), redirect_uri.to_owned()).map_err(|e| {
            let text = e.to_string();
            *self.failure.lock().unwrap_or_else(PoisonError::into_inner) = Some(e);
            core::BrowserError(text)
        })
    }
}
