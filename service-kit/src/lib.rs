//! What every Tessera service (the federation authority, the test OpenID Provider, the wallet
//! provider, and the issuer and verifier) takes from one place instead of keeping a copy:
//!
//! * [`error`]: the JSON error form (`error`, `error_description`, RFC 6749 §5.2, draft 48
//!   §8.9, IT-Wallet 1.4 §2), and a layer that turns any other error response (the web
//!   framework's plain-text rejections, unknown routes, wrong methods) into that form;
//! * [`extract`]: body, query and form extractors whose refusals say what was wrong, and
//!   strict booleans;
//! * [`assets`]: a default logo for federation entities;
//! * [`admin`]: the operator's bearer token, checked before the body is read;
//! * [`files`]: databases created and kept 0600;
//! * [`ids`]: random keys for rows added at a high rate, time-ordered so that a commit's new
//!   rows share the last pages of each index;
//! * [`rate_limit`]: token buckets per client, bounded in memory;
//! * [`fetch`]: outbound HTTP that never blocks a thread, with a timeout per fetch, a
//!   deadline per request and a bound on concurrent fetches;
//! * [`health`]: `/health` that says when a service is degraded;
//! * [`html`]: escaping for the pages services serve;
//! * [`serve`]: serving a router with the peer address that rate limits need, over TCP or
//!   HTTPS (`serve_tls`: rustls with the aws-lc-rs provider, `[tls]` PEM files);
//! * [`pg`]: a PostgreSQL database behind a synchronous API (its own runtime thread, one
//!   shared reconnecting connection, the schema created under an advisory lock, a timeout per
//!   call), for stores whose replicas share their state;
//! * [`trust_marks`]: the trust marks a service requires of the entities it trusts (the
//!   issuer of wallet providers, the verifier of credential issuers), static plus dynamic;
//! * [`process`]: a service process's logs (stderr, `TESSERA_LOG`) and the signals that stop
//!   it gracefully.

pub mod admin;
pub mod assets;
pub mod error;
pub mod bench;
pub mod config;
pub mod cpu;
pub mod extract;
pub mod files;
pub mod ids;
pub mod fetch;
pub mod health;
pub mod html;
pub mod pg;
pub mod process;
pub mod rate_limit;
pub mod serve;
pub mod status_list;
pub mod trust_marks;

pub use admin::{AdminAuth, AdminToken};
pub use error::ApiError;
pub use extract::{Form, Json, Query};
pub use fetch::{FetchLimits, OutboundCa, OutboundHttp};
pub use health::Health;
pub use rate_limit::{RateLimit, RateLimiter};
pub use status_list::status_list_response;
