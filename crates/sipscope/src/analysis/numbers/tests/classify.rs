use rlibphonenumber::{PhoneNumberFormat, Region as LibRegion, PHONE_NUMBER_UTIL};

use super::super::{NumberType, BRAZIL_CARRIER_CODES};
use super::*;

/// Asserts that every variant reads as `expected` with the given stripped prefix.
fn unify(expected: &str, variants: &[(&str, &str)]) {
    for (user, prefix) in variants {
        let n = number(user);
        assert_eq!(n.e164.as_deref(), Some(expected), "{user}");
        assert_eq!(n.prefix_stripped, *prefix, "{user}");
        assert!(n.valid, "{user}");
    }
}

#[test]
fn figure_2_variants_are_one_number() {
    // 003 Figure 2 with a real-shaped Israeli mobile in place of 9725*****586: Brazilian
    // carrier codes 14/15/21/31 after 00, a trunk 0 in front of 0014, and the bare number.
    unify(
        "+972526123586",
        &[
            ("0014972526123586", "0014"),
            ("00014972526123586", "00014"),
            ("0015972526123586", "0015"),
            ("0021972526123586", "0021"),
            ("0031972526123586", "0031"),
            ("972526123586", ""),
        ],
    );
    let n = number("0021972526123586");
    assert_eq!((n.country.as_deref(), n.calling_code, n.number_type), (Some("IL"), Some(972), NumberType::Mobile));
    assert!(!n.ambiguous());
}

#[test]
fn german_mobile_behind_every_prefix() {
    unify(
        "+4915123456789",
        &[
            ("+49 1512 3456789", "+"),
            ("%2B4915123456789", "+"),
            ("tel:+49-1512-3456789", "+"),
            ("+0049 1512 3456789", "+00"),
            ("004915123456789", "00"),
            ("0004915123456789", "000"),
            ("01149 1512 3456789", "011"),
            ("9004915123456789", "900"),
            ("90114915123456789", "9011"),
            ("001149 1512 3456789", "0011"),
            ("8104915123456789", "810"),
            ("00154915123456789", "0015"),
            ("4915123456789", ""),
        ],
    );
    let n = number("004915123456789");
    assert_eq!((n.country.as_deref(), n.number_type), (Some("DE"), NumberType::Mobile));
    assert_eq!(n.digits_dialled, "004915123456789");
}

#[test]
fn bank_toll_free_and_the_nine_ambiguity() {
    // Bank of America's published customer-service number, 003's most-called destination.
    unify(
        "+18004321000",
        &[
            ("18004321000", ""),
            ("1-800-432-1000", ""),
            ("+1 (800) 432-1000", "+"),
            ("0018004321000", "00"),
            ("01118004321000", "011"),
        ],
    );
    let n = number("0018004321000");
    assert_eq!((n.country.as_deref(), n.number_type), (Some("US"), NumberType::TollFree));
    // 9 + 1-800 is also a valid Indian mobile (+91 80043 21000). Without a home region the
    // literal reading wins and the other is kept; with US as home, the US reading wins.
    let n = number("918004321000");
    assert_eq!(
        (n.e164.as_deref(), n.alternatives.as_slice()),
        (Some("+918004321000"), &["+18004321000".to_string()][..])
    );
    let n = number_in("918004321000", Some("US"));
    assert_eq!((n.e164.as_deref(), n.prefix_stripped.as_str()), (Some("+18004321000"), "9"));
}

#[test]
fn uk_premium_rate() {
    unify("+449098765432", &[("00449098765432", "00"), ("+44 909 876 5432", "+"), ("011449098765432", "011")]);
    assert_eq!(number("00449098765432").number_type, NumberType::PremiumRate);
    // National forms only with GB as home: 0 is the national prefix, 9 the PBX trunk.
    let n = number_in("0909 876 5432", Some("GB"));
    assert_eq!((n.e164.as_deref(), n.prefix_stripped.as_str()), (Some("+449098765432"), "0"));
    assert_eq!(number_in("909098765432", Some("GB")).prefix_stripped, "90");
}

#[test]
fn brazilian_mobile_with_carrier_code() {
    unify("+5511987654321", &[("0055 11 98765 4321", "00"), ("0015 55 11 98765 4321", "0015")]);
    let n = number_in("0 21 11 98765 4321", Some("BR"));
    assert_eq!(n.e164.as_deref(), Some("+5511987654321"));
    assert_eq!((n.prefix_stripped.as_str(), n.number_type), ("021", NumberType::Mobile));
    assert_eq!(number_in("011 98765 4321", Some("BR")).prefix_stripped, "0");
    // Without a home region a national number has no country: said, not guessed.
    let n = number("0 21 11 98765 4321");
    assert_eq!((n.e164, n.country, n.valid), (None, None, false));
    assert_eq!(n.digits_dialled, "0211198765 4321".replace(' ', ""));
}

#[test]
fn table_4_destinations() {
    for (user, e164, country, kind) in [
        ("00420601123456", "+420601123456", Some("CZ"), NumberType::Mobile),
        ("00263772123456", "+263772123456", Some("ZW"), NumberType::Mobile),
        ("00201012345678", "+201012345678", Some("EG"), NumberType::Mobile),
        ("01179161234567", "+79161234567", Some("RU"), NumberType::Mobile),
        ("00493012345678", "+493012345678", Some("DE"), NumberType::FixedLine),
        ("0012025550173", "+12025550173", Some("US"), NumberType::FixedLineOrMobile),
        // "800 (Free)": the universal international freephone code has no country.
        ("0080012345678", "+80012345678", None, NumberType::TollFree),
    ] {
        let n = number(user);
        assert_eq!((n.e164.as_deref(), n.country.as_deref(), n.number_type), (Some(e164), country, kind), "{user}");
    }
    assert_eq!(number("0080012345678").calling_code, Some(800));
}

#[test]
fn home_region() {
    let n = number_in("030 12345678", Some("DE"));
    assert_eq!((n.e164.as_deref(), n.number_type), (Some("+493012345678"), NumberType::FixedLine));
    assert_eq!(number("030 12345678").e164, None);
    // A `+` is international: never read nationally.
    assert_eq!(number_in("+0301234567", Some("DE")).e164, None);
    for (code, known) in [
        ("BR", true),
        ("de", true),
        (" gb ", true),
        ("ZZ", false),
        ("001", false),
        ("XYZ", false),
        ("", false),
        ("Ω", false),
    ] {
        assert_eq!(Region::from_code(code).is_some(), known, "{code:?}");
    }
    assert_eq!(Region::from_code("br").map(|r| r.to_string()).as_deref(), Some("BR"));
}

#[test]
fn users_that_are_not_numbers() {
    for ext in ["100", "1001", "2001", "0", "123456"] {
        assert_eq!(classify(ext), Dialled::Extension(ext.into()), "{ext}");
    }
    assert_eq!(classify("10-01"), Dialled::Extension("1001".into()));
    for name in ["admin", "s", "test", "Admin User", "100abc", "1-800-FLOWERS", "пользователь"] {
        assert_eq!(classify(name), Dialled::NonNumeric(name.into()), "{name}");
    }
    assert_eq!(classify("*97"), Dialled::ServiceCode("*97".into()));
    assert_eq!(classify("*72 +49 30 1234567"), Dialled::ServiceCode("*72+49301234567".into()));
    assert_eq!(classify("#31#004930123456"), Dialled::ServiceCode("#31#004930123456".into()));
    for bad in ["", "+", "%00", "49+30", "\u{fffd}\u{fffd}", "---"] {
        assert_eq!(classify(bad), Dialled::Invalid, "{bad:?}");
    }
    // Seven digits are a number, with no reading here; `+` makes even short digits a number.
    let n = number("1234567");
    assert_eq!((n.e164.as_deref(), n.key()), (None, "1234567"));
    assert!(!number("+100").valid);
}

/// A deterministic stream of awkward inputs: digits behind prefixes, bytes of every class.
#[test]
fn garbage_never_panics_and_readings_are_consistent() {
    let alphabet: Vec<char> = "0123456789+*#%2B-. ()/;:=aZtel\u{0}\u{7f}\u{fffd}éΩ漢🙂".chars().collect();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let home = Region::from_code("BR");
    for i in 0..3000 {
        let len = (next() % 30) as usize;
        let user: String = if i % 2 == 0 {
            let prefix = ["", "9", "00", "011", "0015", "+", "%2B", "9011"][(next() % 8) as usize];
            let digits: String = (0..len).map(|_| char::from(b'0' + (next() % 10) as u8)).collect();
            format!("{prefix}{digits}")
        } else {
            (0..len).map(|_| alphabet[(next() % alphabet.len() as u64) as usize]).collect()
        };
        for dialled in [classify(&user), classify_with(&user, home)] {
            let Dialled::Number(n) = dialled else { continue };
            assert!(n.digits_dialled.bytes().all(|b| b.is_ascii_digit()), "{user:?}");
            let stripped = n.prefix_stripped.trim_start_matches(['+', '*', '#']);
            assert!(n.digits_dialled.starts_with(stripped), "{user:?} {n:?}");
            // libphonenumber allows national numbers of up to 17 digits (Germany's reach 15).
            assert!(n.e164.as_deref().is_none_or(|e| e.starts_with('+') && e.len() <= 21), "{user:?} {n:?}");
            assert!(n.valid || n.number_type == NumberType::Unknown, "{user:?} {n:?}");
            assert!(!n.valid || n.e164.is_some(), "{user:?} {n:?}");
        }
    }
}

/// Our Brazilian carrier list is exactly what the metadata accepts after `00` from Brazil.
#[test]
fn brazil_carrier_codes_match_the_metadata() {
    for code in 10..=99 {
        let dialled = format!("00{code}493012345678");
        let international = PHONE_NUMBER_UTIL
            .parse(dialled.as_str(), Some(LibRegion::BR))
            .is_ok_and(|n| PHONE_NUMBER_UTIL.format(&n, PhoneNumberFormat::E164) == "+493012345678");
        assert_eq!(international, BRAZIL_CARRIER_CODES.contains(&code.to_string().as_str()), "carrier {code}");
    }
}

#[test]
fn type_names_are_the_serde_names() {
    for t in [NumberType::Mobile, NumberType::FixedLineOrMobile, NumberType::PremiumRate, NumberType::Voip] {
        assert_eq!(serde_json::to_string(&t).unwrap(), format!("\"{}\"", t.as_str()));
    }
    let json = serde_json::to_string(&classify("admin")).unwrap();
    assert_eq!(json, r#"{"kind":"non_numeric","value":"admin"}"#);
}

#[test]
fn shared_calling_codes_give_their_main_region_as_inferred() {
    // Possible-only numbers of codes several regions share (+44: GB, GG, IM, JE; +1: NANP;
    // +7: RU, KZ; +262: RE, YT): the code's main region, marked inferred, and still not valid.
    for (user, e164, country) in [
        ("00447700900123", "+447700900123", "GB"),
        ("+1 200 555 0100", "+12005550100", "US"),
        ("0076001234567", "+76001234567", "RU"),
        ("00262269123456", "+262269123456", "RE"),
    ] {
        let n = number(user);
        assert_eq!((n.e164.as_deref(), n.country.as_deref()), (Some(e164), Some(country)), "{user}");
        assert!(n.country_inferred && !n.valid, "{user}: {n:?}");
        assert_eq!(n.number_type, NumberType::Unknown, "{user}");
    }
    // Valid numbers name their own region, shared code or not; nothing is inferred.
    for (user, country) in [("00447400123456", "GB"), ("00447624123456", "IM"), ("004915123456789", "DE")] {
        let n = number(user);
        assert_eq!((n.country.as_deref(), n.country_inferred, n.valid), (Some(country), false, true), "{user}");
    }
    // A non-geographic code has no country to infer.
    let n = number("0080012345678");
    assert_eq!((n.country, n.country_inferred), (None, false));
}

#[test]
fn dial_around_codes_before_011_are_one_israeli_number() {
    // Issue 13, from real attack captures: the same Israeli mobile behind the NANP IDD, a PBX
    // trunk 9, and four casual-calling codes (101 + a 4-digit carrier code) before 011.
    unify(
        "+972526123586",
        &[
            ("011972526123586", "011"),
            ("9011972526123586", "9011"),
            ("1010222011972526123586", "1010222011"),
            ("1010333011972526123586", "1010333011"),
            ("1010432011972526123586", "1010432011"),
            ("1010555011972526123586", "1010555011"),
        ],
    );
    let n = number("1010432011972526123586");
    assert_eq!((n.country.as_deref(), n.number_type, n.country_inferred), (Some("IL"), NumberType::Mobile, false));
    // Dial-around before a North American number (1 + area code), and after the trunk 9.
    unify("+18004321000", &[("101022218004321000", "1010222"), ("9101022218004321000", "91010222")]);
}

#[test]
fn european_carrier_selection_before_an_international_prefix() {
    unify(
        "+4915123456789",
        &[
            // Germany's call-by-call 010XY and 0100YY (after the trunk 0 they start with).
            ("01033004915123456789", "0103300"),
            ("010012004915123456789", "01001200"),
            // Switzerland 107XY, Spain 105X / 107XY, Italy 10XY, France 16XY, United Kingdom 1XX.
            ("10707004915123456789", "1070700"),
            ("1050004915123456789", "105000"),
            ("1055004915123456789", "105500"),
            ("1699004915123456789", "169900"),
            ("132004915123456789", "13200"),
            // A trunk 9 in front of it all, and a repeated international prefix.
            ("9132004915123456789", "913200"),
            ("00004915123456789", "0000"),
            ("0110114915123456789", "011011"),
        ],
    );
    // Without an international prefix after them, such digits are the number's own: a bare
    // 1-800 number is not "1800" + something.
    let n = number("18004321000");
    assert_eq!((n.e164.as_deref(), n.prefix_stripped.as_str()), (Some("+18004321000"), ""));
}

#[test]
fn technical_characters_in_front_of_a_number() {
    unify(
        "+972526123586",
        &[("*011972526123586", "*011"), ("#00972526123586", "#00"), ("**972526123586", "**"), ("*+972526123586", "*+")],
    );
    // Feature codes stay feature codes: digits of their own before the number, `*`/`#` inside,
    // too short, or no valid number behind them.
    for code in ["*97", "*72+49301234567", "#31#004930123456", "*6718004321000", "*1234567", "****0046701234567"] {
        assert!(matches!(classify(code), Dialled::ServiceCode(_)), "{code}: {:?}", classify(code));
    }
}

#[test]
fn kind_of_agrees_with_classify_without_libphonenumber() {
    use crate::analysis::numbers::kind_of;
    for user in [
        "100",
        "10-01",
        "*97",
        "admin",
        "",
        "+",
        "0046701234567",
        "+46701234567",
        "9011442079460000",
        "1234567",
        // Numbers behind technical `*`/`#` (the rules once saw these as service codes).
        "*011972526123586",
        "**01000027776587607",
    ] {
        let expected = match classify(user) {
            Dialled::Number(_) => "number",
            Dialled::Extension(_) => "extension",
            Dialled::ServiceCode(_) => "service_code",
            Dialled::NonNumeric(_) => "non_numeric",
            Dialled::Invalid => "invalid",
        };
        assert_eq!(kind_of(user), expected, "{user:?}");
    }
}
