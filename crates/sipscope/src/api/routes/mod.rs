//! The endpoints, one module per group; docs/api.md and `../openapi.json` describe them.

pub(crate) mod assets;
pub(crate) mod blocklist;
pub(crate) mod compat;
pub(crate) mod decisions;
pub(crate) mod events;
pub(crate) mod lists;
pub(crate) mod reports;
pub(crate) mod sources;

use super::params::Params;
use super::server::Failure;

/// The parameters of a request.
pub(crate) fn params(q: &axum::extract::RawQuery) -> Result<Params, Failure> {
    Params::parse(q.0.as_deref())
}
