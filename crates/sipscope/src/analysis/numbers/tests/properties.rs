//! Hostile users: whatever an attacker puts in a Request-URI user (any text, long runs of
//! prefixes, `*`/`#`, separators), classification never panics, an E.164 reading is `+` and
//! digits, the cheap kind agrees with the full reading, and the same user reads the same twice.

use super::{classify, Dialled};
use crate::analysis::numbers::kind_of;
use proptest::prelude::*;

fn kind_name(d: &Dialled) -> &'static str {
    match d {
        Dialled::Number(_) => "number",
        Dialled::Extension(_) => "extension",
        Dialled::ServiceCode(_) => "service_code",
        Dialled::NonNumeric(_) => "non_numeric",
        Dialled::Invalid => "invalid",
    }
}

fn check(user: &str) {
    let reading = classify(user);
    if let Dialled::Number(n) = &reading {
        if let Some(e164) = &n.e164 {
            assert!(e164.starts_with('+') && e164[1..].bytes().all(|b| b.is_ascii_digit()), "{user:?}: {e164}");
        }
    }
    assert_eq!(kind_of(user), kind_name(&reading), "{user:?}");
    assert_eq!(classify(user), reading, "{user:?}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn dial_strings_of_prefixes_and_digits(user in "[0-9+*#() .-]{0,40}") {
        check(&user);
    }

    #[test]
    fn stacked_prefixes_before_a_number(prefixes in proptest::collection::vec(
        proptest::sample::select(vec!["9", "0", "00", "011", "1010222", "1010", "*", "#", "+", "010", "0100"]), 0..12),
        number in "[0-9]{6,15}") {
        check(&format!("{}{number}", prefixes.concat()));
    }

    #[test]
    fn any_text(user in any::<String>()) {
        check(&user);
    }
}
