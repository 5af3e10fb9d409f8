//! What a service's entry point sets up around the server: its logs (stderr, at the level
//! `TESSERA_LOG` names) and the signal that stops it gracefully. Every binary that runs a
//! service (`tessera-federation`, `tessera-issuer`, `tessera-verifier`, `tessera … serve`)
//! takes both from here, so they all read the same variable and stop on the same signals.

use tracing_subscriber::filter::LevelFilter;

/// The environment variable that sets a service's log level.
pub const LOG_ENV: &str = "TESSERA_LOG";

/// The level a `TESSERA_LOG` value names: `error`, `warn`, `info`, `debug` or `trace`, in
/// any case. Anything else, or nothing, is `info`: a typo leaves a service logging as usual
/// rather than stopping it.
pub fn log_level(value: &str) -> LevelFilter {
    match value.to_ascii_lowercase().as_str() {
        "error" => LevelFilter::ERROR,
        "warn" => LevelFilter::WARN,
        "debug" => LevelFilter::DEBUG,
        "trace" => LevelFilter::TRACE,
        _ => LevelFilter::INFO,
    }
}

/// Logs to stderr, without ANSI colours, at the level of [`LOG_ENV`] ([`log_level`]). Stdout
/// stays for what a command prints; colour codes would end up as noise in the files and
/// journals that collect a service's stderr. Does nothing when logging is already set up, so
/// a second call (a command that serves after another did) is harmless.
pub fn init_logs() {
    let level = log_level(&std::env::var(LOG_ENV).unwrap_or_default());
    let _ = tracing_subscriber::fmt().with_max_level(level).with_ansi(false).with_writer(std::io::stderr).try_init();
}

/// Completes on Ctrl-C (SIGINT) or, on Unix, SIGTERM: what container runtimes and systemd
/// send to stop a service. When the SIGTERM handler cannot be installed, Ctrl-C alone.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_level_is_named_in_any_case() {
        for (value, level) in [("error", LevelFilter::ERROR), ("warn", LevelFilter::WARN), ("info", LevelFilter::INFO), ("debug", LevelFilter::DEBUG), ("trace", LevelFilter::TRACE)] {
            assert_eq!(log_level(value), level, "{value}");
            assert_eq!(log_level(&value.to_ascii_uppercase()), level, "{value}");
        }
        assert_eq!(log_level("Debug"), LevelFilter::DEBUG);
        assert_eq!(log_level("wArN"), LevelFilter::WARN);
    }

    #[test]
    fn anything_else_is_info() {
        for value in ["", "off", "warning", "verbose", " debug", "debug ", "3"] {
            assert_eq!(log_level(value), LevelFilter::INFO, "{value:?}");
        }
    }

    #[test]
    fn initialising_twice_is_harmless() {
        init_logs();
        init_logs();
    }
}
