//! The REST API and the dashboard (helper E's server replaces this stub when merged; this
//! branch holds only the dashboard's embedded files).

pub mod dashboard;
