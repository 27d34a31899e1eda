//! Readings of a dialled digit string and the choice among them. Each reading strips a dialling
//! prefix (see `prefixes`) and asks libphonenumber whether the rest is an international number;
//! with a home region configured, the digits are also read as that region would dial them. The
//! best reading is the minimum of `(not valid, outside the home region, stripped digits,
//! national)`: valid beats merely possible, the home region beats elsewhere (what the victim PBX
//! would really have dialled), fewer stripped digits beat more (the attacker's string taken as
//! literally as possible), and an international reading beats a national one.

use rlibphonenumber::{
    get_national_significant_number_owned, CountryCodeSource, NumberLengthType, PhoneNumber, PhoneNumberFormat,
    PhoneNumberType, Region as LibRegion, PHONE_NUMBER_UTIL,
};

use super::prefixes::{prefix_lengths, TRUNK_PREFIXES};
use super::{DialledNumber, NumberType, Region};

/// Other equally good readings remembered per number (see `DialledNumber::alternatives`).
const MAX_ALTERNATIVES: usize = 4;

struct Reading {
    /// Leading dialled digits that are not part of the number (prefix, national prefix).
    prefix_len: usize,
    e164: String,
    calling_code: u16,
    region: Option<LibRegion>,
    number_type: NumberType,
    valid: bool,
    national: bool,
}

impl Reading {
    fn rank(&self, home: Option<Region>) -> (bool, bool, usize, bool) {
        let away = home.is_some_and(|h| self.region != Some(h.0));
        (!self.valid, away, self.prefix_len, self.national)
    }
}

/// A reading from a parsed number, or `None` when libphonenumber finds it neither valid nor of
/// a possible length (local-only lengths do not count: they are not complete numbers).
fn reading(number: &PhoneNumber, prefix_len: usize, national: bool) -> Option<Reading> {
    // `is_valid_number` is `is_valid_number_for_region` in the number's region: looked up once
    // here for both (for calling codes shared by many regions, `+1`, `+7`, `+44`, the lookup
    // tries the regions' number patterns one after the other).
    let region = PHONE_NUMBER_UTIL.get_region_for_number(number);
    let valid = region.is_some_and(|r| PHONE_NUMBER_UTIL.is_valid_number_for_region(number, r));
    if !valid && PHONE_NUMBER_UTIL.is_possible_number_with_reason(number) != Ok(NumberLengthType::IsPossible) {
        return None;
    }
    Some(Reading {
        prefix_len,
        e164: PHONE_NUMBER_UTIL.format(number, PhoneNumberFormat::E164).into_owned(),
        calling_code: u16::try_from(number.country_code).ok()?,
        region,
        number_type: if valid { PHONE_NUMBER_UTIL.get_number_type(number).into() } else { NumberType::Unknown },
        valid,
        national,
    })
}

/// International readings: each dialling prefix stripped, the rest parsed as `+rest`.
fn international(digits: &str, out: &mut Vec<Reading>) {
    for k in prefix_lengths(digits) {
        let rest = &digits[k..];
        // No calling code starts with 0, and libphonenumber would only reject it after work.
        if rest.is_empty() || rest.starts_with('0') {
            continue;
        }
        if let Ok(number) = PHONE_NUMBER_UTIL.parse(format!("+{rest}").as_str(), None) {
            out.extend(reading(&number, k, false));
        }
    }
}

/// National readings in the home region, after an optional trunk digit. libphonenumber applies
/// the region's own national prefix, carrier codes (Brazil's `0 21 11 …`) and IDD (`000` in
/// Kenya, `010` in Japan), so those need no list here.
fn national(digits: &str, home: Region, out: &mut Vec<Reading>) {
    for trunk in std::iter::once("").chain(TRUNK_PREFIXES) {
        let Some(rest) = digits.strip_prefix(trunk).filter(|r| !r.is_empty()) else { continue };
        let Ok(number) = PHONE_NUMBER_UTIL.parse_and_keep_raw_input(rest, Some(home.0)) else { continue };
        // What was stripped is whatever precedes the number's own digits in the dialled string:
        // the national significant number alone when the country came from the region, else the
        // calling code too. Regions that insert digits (Argentina's mobile 9) fall back to the
        // trunk digit.
        let nsn = get_national_significant_number_owned(&number);
        let tail = match number.country_code_source() {
            CountryCodeSource::FromDefaultCountry => nsn,
            _ => format!("{}{nsn}", number.country_code),
        };
        let prefix_len = if digits.ends_with(&tail) { digits.len() - tail.len() } else { trunk.len() };
        out.extend(reading(&number, prefix_len, true));
    }
}

/// Resolves a digit string (without its `+`) to the best reading; `raw` is kept as given.
pub(super) fn resolve(raw: &str, plus: bool, digits: String, home: Option<Region>) -> DialledNumber {
    let mut readings = Vec::new();
    international(&digits, &mut readings);
    // A leading `+` says the number is international: no national reading for it.
    if let (Some(home), false) = (home, plus) {
        national(&digits, home, &mut readings);
    }
    readings.sort_by(|a, b| a.rank(home).cmp(&b.rank(home)).then_with(|| a.e164.cmp(&b.e164)));
    let mut number = DialledNumber {
        raw: raw.to_string(),
        prefix_stripped: if plus { "+".to_string() } else { String::new() },
        digits_dialled: String::new(),
        e164: None,
        country: None,
        country_inferred: false,
        calling_code: None,
        number_type: NumberType::Unknown,
        valid: false,
        alternatives: Vec::new(),
    };
    if let Some(best) = readings.first() {
        number.prefix_stripped.push_str(&digits[..best.prefix_len]);
        let (region, inferred) = match best.region {
            Some(r) => (Some(r), false),
            // A shared calling code whose regions' ranges all refused the number: its main
            // region, said to be inferred. A code of one region names it without ranges.
            None => (PHONE_NUMBER_UTIL.get_region_for_country_code(i32::from(best.calling_code)), true),
        };
        number.country = region.filter(|r| *r != LibRegion::World).map(|r| r.to_string());
        number.country_inferred = inferred && number.country.is_some();
        number.calling_code = Some(best.calling_code);
        number.number_type = best.number_type;
        number.valid = best.valid;
        for other in &readings[1..] {
            let fresh = other.e164 != best.e164 && !number.alternatives.contains(&other.e164);
            if other.valid == best.valid && fresh && number.alternatives.len() < MAX_ALTERNATIVES {
                number.alternatives.push(other.e164.clone());
            }
        }
        number.e164 = Some(best.e164.clone());
    }
    number.digits_dialled = digits;
    number
}

impl From<PhoneNumberType> for NumberType {
    fn from(t: PhoneNumberType) -> Self {
        match t {
            PhoneNumberType::FixedLine => NumberType::FixedLine,
            PhoneNumberType::Mobile => NumberType::Mobile,
            PhoneNumberType::FixedLineOrMobile => NumberType::FixedLineOrMobile,
            PhoneNumberType::TollFree => NumberType::TollFree,
            PhoneNumberType::PremiumRate => NumberType::PremiumRate,
            PhoneNumberType::SharedCost => NumberType::SharedCost,
            PhoneNumberType::VoIP => NumberType::Voip,
            PhoneNumberType::PersonalNumber => NumberType::PersonalNumber,
            PhoneNumberType::Pager => NumberType::Pager,
            PhoneNumberType::UAN => NumberType::Uan,
            PhoneNumberType::VoiceMail => NumberType::Voicemail,
            PhoneNumberType::Unknown => NumberType::Unknown,
        }
    }
}

/// Whether `code` names a region libphonenumber has metadata for (not `001`, not `ZZ`).
pub(super) fn known_region(code: &str) -> Option<LibRegion> {
    let region = LibRegion::from_code(code).ok()?;
    (region != LibRegion::World && PHONE_NUMBER_UTIL.get_country_code_for_region(region).is_some()).then_some(region)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::test_rng::Rng;

    /// The reading as it was made before the region was looked up once.
    fn reference(number: &PhoneNumber) -> Option<(String, Option<LibRegion>, NumberType, bool)> {
        let valid = PHONE_NUMBER_UTIL.is_valid_number(number);
        if !valid && PHONE_NUMBER_UTIL.is_possible_number_with_reason(number) != Ok(NumberLengthType::IsPossible) {
            return None;
        }
        let number_type = if valid { PHONE_NUMBER_UTIL.get_number_type(number).into() } else { NumberType::Unknown };
        let e164 = PHONE_NUMBER_UTIL.format(number, PhoneNumberFormat::E164).into_owned();
        Some((e164, PHONE_NUMBER_UTIL.get_region_for_number(number), number_type, valid))
    }

    #[test]
    fn one_region_lookup_reads_numbers_as_before() {
        let mut rng = Rng(3);
        let (mut checked, mut valid) = (0, 0);
        for code in 1..1000u32 {
            for _ in 0..12 {
                let len = 4 + rng.below(11) as usize;
                let digits: String = (0..len).map(|_| char::from(b'0' + rng.below(10) as u8)).collect();
                let Ok(number) = PHONE_NUMBER_UTIL.parse(format!("+{code}{digits}").as_str(), None) else { continue };
                let got = reading(&number, 0, false).map(|r| (r.e164, r.region, r.number_type, r.valid));
                assert_eq!(got, reference(&number), "+{code}{digits}");
                checked += 1;
                valid += usize::from(got.is_some_and(|g| g.3));
            }
        }
        assert!(checked > 2_000 && valid > 200, "{checked} {valid}");
    }
}
