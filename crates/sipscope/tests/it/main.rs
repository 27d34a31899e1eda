//! The application's one integration-test binary: each module drives one command end to end.

mod ingest_golden;
mod parse_cmd;
