//! The dialling prefixes attackers put in front of a number because they do not know how the
//! PBX they broke into reaches the outside world (003, Figure 2). A prefix is
//! `[trunk] [international]`, both optional:
//!
//! - trunk (PBX "outside line") digits: `9` (North America, much of Asia) or `0` (Europe, Brazil);
//! - international (IDD) prefixes: `00` (ITU recommendation, most of the world), `011` (NANP),
//!   `0011` (Australia), `810` (Russia and former USSR, `8` then `10`), and Brazil's `00` + a
//!   2-digit carrier-selection code.
//!
//! So `000` is `0` + `00`, `9011` is `9` + `011`, `00014` is `0` + `0014`. Each reading of a
//! dialled string is identified by how many leading digits it strips.

/// Brazilian carrier-selection codes accepted after `00` for international calls, exactly the
/// alternatives of libphonenumber's Brazilian `internationalPrefix`
/// `00(?:1[245]|2[1-35]|31|4[13]|[56]5|99)` (among them Oi/Brasil Telecom 14, Vivo 15,
/// Claro/Embratel 21, Oi/Telemar 31, TIM 41). A test checks the list against the metadata in
/// use, so a metadata update that changes it is noticed.
pub const BRAZIL_CARRIER_CODES: [&str; 13] =
    ["12", "14", "15", "21", "22", "23", "25", "31", "41", "43", "55", "65", "99"];

/// PBX trunk ("outside line") digits.
pub const TRUNK_PREFIXES: [&str; 2] = ["9", "0"];

/// International (IDD) prefixes, besides Brazil's `00` + carrier code.
pub const INTERNATIONAL_PREFIXES: [&str; 4] = ["00", "011", "0011", "810"];

/// Longest prefix the grammar allows: trunk (1) + `0011` or `00`+carrier (4).
pub const MAX_PREFIX_LEN: usize = 5;

fn is_international(p: &str) -> bool {
    INTERNATIONAL_PREFIXES.contains(&p)
        || (p.len() == 4 && p.starts_with("00") && BRAZIL_CARRIER_CODES.contains(&&p[2..]))
}

/// Whether `p` (digits) is a whole dialling prefix: empty, a trunk digit, an international
/// prefix, or a trunk digit followed by an international prefix.
pub fn is_dial_prefix(p: &str) -> bool {
    if p.is_empty() || TRUNK_PREFIXES.contains(&p) || is_international(p) {
        return true;
    }
    TRUNK_PREFIXES.iter().any(|t| p.strip_prefix(t).is_some_and(is_international))
}

/// Lengths of the leading parts of `digits` that are dialling prefixes, shortest first
/// (always starting with 0: the string read as it is). At most a handful.
pub fn prefix_lengths(digits: &str) -> impl Iterator<Item = usize> + '_ {
    (0..=MAX_PREFIX_LEN.min(digits.len())).filter(move |&k| digits.is_char_boundary(k) && is_dial_prefix(&digits[..k]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grammar() {
        for p in ["", "9", "0", "00", "000", "011", "0011", "810", "9011", "900", "0810", "0014", "00014", "90015"] {
            assert!(is_dial_prefix(p), "{p}");
        }
        for p in ["1", "99", "01", "0016", "0013", "001", "010", "9810x", "00000"] {
            assert!(!is_dial_prefix(p), "{p}");
        }
    }

    #[test]
    fn lengths() {
        let got: Vec<usize> = prefix_lengths("00014972526123586").collect();
        assert_eq!(got, [0, 1, 2, 3, 5]); // "", 0, 00, 000, 0+0014
        assert_eq!(prefix_lengths("972526123586").collect::<Vec<_>>(), [0, 1]); // "", 9
        assert_eq!(prefix_lengths("").collect::<Vec<_>>(), [0]);
    }
}
