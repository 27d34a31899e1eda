//! The protocol crate's one integration-test binary: each module is one concern.

mod corpus;
mod differential;
mod docs;
mod properties;
mod tools;
mod views;
