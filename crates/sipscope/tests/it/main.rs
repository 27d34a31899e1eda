//! The application's one integration-test binary: each module drives one command end to end.

mod api;
#[cfg(feature = "live")]
mod capture_cmd;
#[cfg(feature = "live")]
mod capture_metrics;
mod carry;
mod consistency;
mod dashboard;
mod decisions_cmd;
mod enforce;
mod export_parquet;
mod hep;
mod honeypot;
mod ingest_encap;
mod ingest_golden;
mod logs_cmd;
mod nats;
mod netns;
mod parse_cmd;
mod pki;
mod postgres;
mod report_config;
mod report_golden;
mod report_scan;
mod report_schema;
mod rules_backtest;
mod sentrypeer_import;
mod small_disk;
