//! Tests with realistic numbers: the variants of 003's Figure 2, the destinations of its
//! Table 4, and the users attack tools send that are not numbers.

mod classify;
mod properties;
mod stats;

use super::{classify, classify_with, Dialled, DialledNumber, Region};

/// The number reading of `user`, or a panic naming what it was instead.
fn number(user: &str) -> DialledNumber {
    number_in(user, None)
}

fn number_in(user: &str, home: Option<&str>) -> DialledNumber {
    match classify_with(user, home.map(|h| Region::from_code(h).expect("known region"))) {
        Dialled::Number(n) => n,
        other => panic!("{user:?} is {other:?}, not a number"),
    }
}
