//! The dialling prefixes attackers put in front of a number because they do not know how the
//! PBX they broke into reaches the outside world (003, Figure 2). A prefix is
//! `[trunk] [carrier selection] [international [international]]`, every part optional:
//!
//! - trunk (PBX "outside line") digits: `9` (North America, much of Asia) or `0` (Europe, Brazil);
//! - carrier selection (dial-around): the caller picks the long-distance carrier per call, so
//!   toll-fraud tools try several carriers' codes in front of the same number:
//!   - North America: `101XXXX`, a 4-digit Carrier Identification Code after `101` ("casual
//!     calling", `1010-321` in the adverts), before `011` + an international number or `1` +
//!     a North American one (ATIS/NANPA Carrier Identification Codes; `10XXX` with 3-digit
//!     codes ended in 1998);
//!   - Europe: codes of `1` and 2 to 5 more digits, taken only when an international prefix
//!     follows them, since they are dialled before the national or international number as
//!     the caller would dial it without one. They cover the United Kingdom's access codes
//!     (`1XX`, `1XXX`, five digits for new allocations: Oftel, "Access codes", 2001), Spain's
//!     `105X(Y)(Z)` and `107X(Y)(Z)` (Plan Nacional de Numeración 1997 §5.12, BOE-A-1999-16585),
//!     Italy's `10XY(Z)` (carrier selection "equal access", DM 27 Feb 1998, Annex F), France's
//!     `16XY` (ARCEP, press release of 7 July 2005: "four-digit 16XY prefixes"), Switzerland's
//!     `107XY` and `108XY`, and, after the trunk digit `0`, Germany's `010XY` and `0100YY`
//!     (Bundesnetzagentur, "Betreiberkennzahlen"). France's single-digit "E" prefixes replace
//!     the leading 0 and cannot be told apart from other digits: they are not stripped;
//! - international (IDD) prefixes: `00` (ITU recommendation, most of the world), `011` (NANP),
//!   `0011` (Australia), `810` (Russia and former USSR, `8` then `10`), and Brazil's `00` + a
//!   2-digit carrier-selection code; an attacker's repeated prefix (`0000`, `011011`) is two.
//!
//! So `000` is `0` + `00`, `9011` is `9` + `011`, `00014` is `0` + `0014`, `1010222011` is
//! `1010222` + `011`, `01033 00` is `0` + `1033` + `00`. Each reading of a dialled string is
//! identified by how many leading digits it strips. Technical characters in front (`*`, `#`)
//! are handled where the user is read (`super::classify_with`).

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

/// North American casual calling: `101` and a 4-digit Carrier Identification Code.
pub const NANP_DIAL_AROUND: &str = "101";

/// Digits of a European carrier-selection code (`1` and 2 to 5 more), taken only before an
/// international prefix.
pub const CARRIER_SELECTION_DIGITS: std::ops::RangeInclusive<usize> = 3..=6;

/// International prefixes in a row at most (an attacker's repeated `00`).
pub const MAX_INTERNATIONAL_PREFIXES: usize = 2;

/// Longest prefix the grammar allows: trunk (1) + dial-around (7) + two international (4 each).
pub const MAX_PREFIX_LEN: usize = 1 + 7 + 2 * 4;

/// Lengths of the international prefixes `rest` starts with.
fn international(rest: &str) -> impl Iterator<Item = usize> + '_ {
    let brazil = rest
        .strip_prefix("00")
        .and_then(|r| r.get(..2))
        .is_some_and(|code| BRAZIL_CARRIER_CODES.contains(&code))
        .then_some(4);
    INTERNATIONAL_PREFIXES.iter().filter(move |p| rest.starts_with(*p)).map(|p| p.len()).chain(brazil)
}

/// Carrier-selection codes `rest` starts with: (length, whether an international prefix must
/// follow). Always includes `(0, false)`: no code.
fn carrier_codes(rest: &str) -> impl Iterator<Item = (usize, bool)> + '_ {
    let nanp = rest
        .strip_prefix(NANP_DIAL_AROUND)
        .and_then(|r| r.get(..4))
        .is_some_and(|cic| cic.len() == 4 && cic.bytes().all(|b| b.is_ascii_digit()))
        .then_some((7, false));
    let europe = CARRIER_SELECTION_DIGITS.filter(move |&n| rest.starts_with('1') && rest.len() >= n).map(|n| (n, true));
    std::iter::once((0, false)).chain(nanp).chain(europe)
}

/// Lengths of the leading parts of `digits` that are dialling prefixes, shortest first
/// (always starting with 0: the string read as it is). At most a few dozen, usually a handful.
/// `digits` are ASCII digits; anything else is read as it is only.
pub fn prefix_lengths(digits: &str) -> Vec<usize> {
    let mut out = vec![0];
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return out;
    }
    let trunks = std::iter::once(0).chain(TRUNK_PREFIXES.iter().filter(|t| digits.starts_with(*t)).map(|t| t.len()));
    for t in trunks {
        out.push(t);
        for (c, needs_international) in carrier_codes(&digits[t..]) {
            let after_carrier = t + c;
            if !needs_international {
                out.push(after_carrier);
            }
            let mut ends = vec![after_carrier];
            for _ in 0..MAX_INTERNATIONAL_PREFIXES {
                ends = ends.iter().flat_map(|&e| international(&digits[e..]).map(move |i| e + i)).collect();
                out.extend(&ends);
            }
        }
    }
    out.retain(|&k| k <= MAX_PREFIX_LEN);
    out.sort_unstable();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `p` (digits) is a whole dialling prefix by the grammar above.
    fn is_dial_prefix(p: &str) -> bool {
        prefix_lengths(p).contains(&p.len())
    }

    #[test]
    fn grammar() {
        for p in ["", "9", "0", "00", "000", "011", "0011", "810", "9011", "900", "0810", "0014", "00014", "90015"] {
            assert!(is_dial_prefix(p), "{p}");
        }
        // Dial-around, carrier selection, repeated international prefixes.
        for p in [
            "1010222",
            "1010222011",
            "91010432011",
            "0000",
            "011011",
            "900011",
            "1050",
            "105000",
            "01033",
            "0103300",
            "01001200",
            "16990000",
            "00000",
            "1070700",
            "13200",
            "1066600",
        ] {
            let got = is_dial_prefix(p);
            // A European code alone is no prefix: it needs an international prefix after it.
            let alone = matches!(p, "1050" | "01033");
            assert_eq!(got, !alone, "{p}");
        }
        for p in [
            "1",
            "99",
            "01",
            "0016",
            "0013",
            "001",
            "010",
            "9810x",
            "10102",
            "101022",
            "12",
            "1200",
            "00000000",
            "+00",
            "1234567000",
        ] {
            assert!(!is_dial_prefix(p), "{p}");
        }
    }

    #[test]
    fn lengths() {
        assert_eq!(prefix_lengths("00014972526123586"), [0, 1, 2, 3, 5]); // "", 0, 00, 000, 0+0014
        assert_eq!(prefix_lengths("972526123586"), [0, 1]); // "", 9
        assert_eq!(prefix_lengths(""), [0]);
        // 1010222 + 011; 9 + 011; 9 + 1010432 + 011.
        assert_eq!(prefix_lengths("1010222011972521234567"), [0, 7, 10]);
        assert_eq!(prefix_lengths("9011972521234567"), [0, 1, 4]);
        assert_eq!(prefix_lengths("91010432011972521234567"), [0, 1, 8, 11]);
        // Germany's call-by-call 01033 + 00; a repeated 00.
        assert_eq!(prefix_lengths("010330049301234567"), [0, 1, 7]);
        assert_eq!(prefix_lengths("000049301234567"), [0, 1, 2, 3, 4]);
        // Never a panic, nothing but the literal reading for what is not digits.
        assert_eq!(prefix_lengths("1ä"), [0]);
        assert_eq!(prefix_lengths(&"0".repeat(40)), [0, 1, 2, 3, 4, 5]);
    }
}
