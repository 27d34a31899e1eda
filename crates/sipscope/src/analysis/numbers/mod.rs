//! Dialled numbers (003): what an attacker tried to call, from the user part of an INVITE's
//! Request-URI. Toll-fraud tools try one number behind many dialling prefixes (`00`, `000`,
//! `011`, `9`, Brazil's `0015`/`0021`/`0031`, a `+`) because they do not know how the PBX
//! reaches the outside; [`classify`] strips those prefixes, keeps the reading libphonenumber
//! (metadata shipped by `rlibphonenumber`) finds valid, and so unifies the variants into one
//! E.164 number with its country and type. [`NumberStats`] counts attempts, variants and sources
//! per unified number in bounded memory. Names (`admin`), extensions (`100`) and service codes
//! (`*97`) are kept apart from numbers. docs/numbers.md describes the heuristic and its limits.
//!
//! Everything here is a pure function of its input: no clock, no global state besides
//! libphonenumber's lazily built metadata tables and [`classify_shared`]'s bounded memo of
//! [`classify`] (shared by the analysis and the rules, which classify the same INVITEs).

mod input;
mod prefixes;
mod resolve;
mod shared;
mod stats;
#[cfg(test)]
mod tests;

use std::fmt;

use serde::Serialize;

pub use input::MAX_EXTENSION_DIGITS;
pub use prefixes::{
    BRAZIL_CARRIER_CODES, CARRIER_SELECTION_DIGITS, INTERNATIONAL_PREFIXES, NANP_DIAL_AROUND, TRUNK_PREFIXES,
};
pub use shared::{classify_shared, SHARED_CLASSES};
pub use stats::{NumberEntry, NumberStats, OtherCounts, StatsLimits};

use input::Shape;

/// What a Request-URI user turned out to be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "value")]
pub enum Dialled {
    /// At least 7 digits, or any digits after a `+`: a number someone could dial.
    Number(DialledNumber),
    /// 1 to [`MAX_EXTENSION_DIGITS`] digits without `+` (`100`, `2001`): a PBX extension.
    /// The digits, separators removed.
    Extension(String),
    /// Digits with `*` or `#` (`*97`, `#31#…`): a feature code, never unified with numbers.
    /// Separators removed. (`*` or `#` only in front of a number that is valid without them,
    /// `*0046701234567`, make a [`Dialled::Number`].)
    ServiceCode(String),
    /// Anything with a letter (`admin`, `s`, `test`, `1-800-FLOWERS`), `%XX`-decoded and trimmed.
    NonNumeric(String),
    /// Empty, longer than 128 bytes or 24 digits, control characters, invalid UTF-8 after
    /// `%XX` decoding, punctuation only, a `+` anywhere but first.
    Invalid,
}

/// A dialled number and its best reading.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DialledNumber {
    /// The user as received.
    pub raw: String,
    /// The dialled digits, prefixes included, without `+` and separators.
    pub digits_dialled: String,
    /// What was stripped in front of the number: `"+"`, `"00"`, `"9011"`, `"0015"`,
    /// `"1010222011"` (dial-around), `"*00"` (a technical `*` or `#` first), `"021"` (national
    /// prefix and carrier, home region only), `""` when taken as it is.
    pub prefix_stripped: String,
    /// `+<calling code><national number>` when some reading is valid or of a possible length.
    pub e164: Option<String>,
    /// ISO 3166 alpha-2 of the destination; `None` when unknown or non-geographic (`+800`,
    /// `+882`). For a possible-but-invalid number of a calling code shared by several regions
    /// (`+1`, `+7`, `+44`), the code's main region (libphonenumber's: US, RU, GB), with
    /// `country_inferred` set.
    pub country: Option<String>,
    /// The country is the calling code's main region, not one the number's ranges named: the
    /// code is shared by several regions and the number is not valid in any of them.
    pub country_inferred: bool,
    /// The calling code of the reading (`49`, `1`, `800`).
    pub calling_code: Option<u16>,
    /// From libphonenumber's metadata; `Unknown` unless `valid`.
    pub number_type: NumberType,
    /// libphonenumber's metadata says the reading is an assigned range of its country; when
    /// false but `e164` is set, the reading only has a possible length.
    pub valid: bool,
    /// Other readings just as good (as valid) with a different E.164 (at most 4): the
    /// choice among them was the tie-break's, and [`NumberStats`] may prefer one it already
    /// tracks.
    pub alternatives: Vec<String>,
}

impl DialledNumber {
    /// What numbers are unified on: the E.164 form, or the dialled digits when no reading
    /// exists (then variants of one unknown number stay apart).
    pub fn key(&self) -> &str {
        self.e164.as_deref().unwrap_or(&self.digits_dialled)
    }

    /// More than one reading was equally good.
    pub fn ambiguous(&self) -> bool {
        !self.alternatives.is_empty()
    }

    /// Heap bytes held, about.
    pub fn heap_bytes(&self) -> usize {
        let opt = |s: &Option<String>| s.as_ref().map_or(0, String::capacity);
        self.raw.capacity()
            + self.digits_dialled.capacity()
            + self.prefix_stripped.capacity()
            + opt(&self.e164)
            + opt(&self.country)
            + self.alternatives.capacity() * std::mem::size_of::<String>()
            + self.alternatives.iter().map(String::capacity).sum::<usize>()
    }
}

impl Dialled {
    /// Heap bytes held, about.
    pub fn heap_bytes(&self) -> usize {
        match self {
            Dialled::Number(n) => n.heap_bytes(),
            Dialled::Extension(s) | Dialled::ServiceCode(s) | Dialled::NonNumeric(s) => s.capacity(),
            Dialled::Invalid => 0,
        }
    }
}

/// The kind of line, from libphonenumber's metadata (its `PhoneNumberType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NumberType {
    Mobile,
    FixedLine,
    /// Countries whose ranges do not tell (NANP: US, Canada, …).
    FixedLineOrMobile,
    TollFree,
    PremiumRate,
    SharedCost,
    Voip,
    PersonalNumber,
    Pager,
    /// Universal access ("company") numbers.
    Uan,
    Voicemail,
    Unknown,
}

impl NumberType {
    /// A stable snake_case name (the serde name), for storage and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            NumberType::Mobile => "mobile",
            NumberType::FixedLine => "fixed_line",
            NumberType::FixedLineOrMobile => "fixed_line_or_mobile",
            NumberType::TollFree => "toll_free",
            NumberType::PremiumRate => "premium_rate",
            NumberType::SharedCost => "shared_cost",
            NumberType::Voip => "voip",
            NumberType::PersonalNumber => "personal_number",
            NumberType::Pager => "pager",
            NumberType::Uan => "uan",
            NumberType::Voicemail => "voicemail",
            NumberType::Unknown => "unknown",
        }
    }
}

impl fmt::Display for NumberType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A home region (ISO 3166 alpha-2 with libphonenumber metadata): where the victim PBX dials
/// from, so that national numbers (`030 1234567`, `0 21 11 98765 4321`) can be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Region(rlibphonenumber::Region);

impl Region {
    /// `"BR"`, `"de"`; `None` for codes without metadata (`"ZZ"`, `"001"`, `"XYZ"`).
    pub fn from_code(code: &str) -> Option<Region> {
        resolve::known_region(code.trim()).map(Region)
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// Builds libphonenumber's tables (metadata, patterns) now rather than on the first dialled
/// number: that costs a few hundred milliseconds in a debug build, which a honeypot must not
/// spend while an attacker's first INVITE waits for its answer (SIPp retransmits meanwhile).
pub fn prepare() {
    let _ = classify("+442079460000");
}

/// What kind of user [`classify`] would find (`number`, `extension`, `service_code`,
/// `non_numeric`, `invalid`), from its shape: without libphonenumber, so cheap enough for every
/// INVITE of a flood (the rules ask it before asking for a number's country or type), except
/// for the rare `*`/`#`-then-digits shape, which is a number only when the digits are a valid
/// one (the same test as [`classify`]'s, so the two always agree).
pub fn kind_of(user: &str) -> &'static str {
    match input::shape(user) {
        Shape::Invalid => "invalid",
        Shape::Name(_) => "non_numeric",
        Shape::Service(code) if behind_technical_prefix(user, &code, None).is_some() => "number",
        Shape::Service(_) => "service_code",
        Shape::Digits { plus: false, digits } if digits.len() <= MAX_EXTENSION_DIGITS => "extension",
        Shape::Digits { .. } => "number",
    }
}

/// Classifies a Request-URI user with no home region: numbers without an international
/// reading get no country rather than a guessed one.
pub fn classify(user: &str) -> Dialled {
    classify_with(user, None)
}

/// Classifies a Request-URI user; with `home`, national readings in that region are tried too
/// and preferred over other countries. Never panics, whatever the input.
pub fn classify_with(user: &str, home: Option<Region>) -> Dialled {
    match input::shape(user) {
        Shape::Invalid => Dialled::Invalid,
        Shape::Name(name) => Dialled::NonNumeric(name),
        Shape::Service(code) => match behind_technical_prefix(user, &code, home) {
            Some(number) => Dialled::Number(number),
            None => Dialled::ServiceCode(code),
        },
        Shape::Digits { plus: false, digits } if digits.len() <= MAX_EXTENSION_DIGITS => Dialled::Extension(digits),
        Shape::Digits { plus, digits } => Dialled::Number(resolve::resolve(user, plus, digits, home)),
    }
}

/// `*` and `#` attackers put in front of a number (a PBX's technical routing prefix), at most
/// this many.
const MAX_TECHNICAL_CHARS: usize = 3;

/// A service-code shape that is only `*`/`#` in front of a number valid without them: that
/// number, with the characters at the start of its `prefix_stripped`. Feature codes with digits
/// of their own (`*72…`, `#31#…`, `*97`) never are: their rest is no valid number, or has
/// `*`/`#` inside.
fn behind_technical_prefix(user: &str, code: &str, home: Option<Region>) -> Option<DialledNumber> {
    let rest = code.trim_start_matches(['*', '#']);
    let technical = &code[..code.len() - rest.len()];
    let (plus, digits) = match rest.strip_prefix('+') {
        Some(d) => (true, d),
        None => (false, rest),
    };
    let digits_only = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
    if technical.len() > MAX_TECHNICAL_CHARS || !digits_only || digits.len() <= MAX_EXTENSION_DIGITS {
        return None;
    }
    let mut number = resolve::resolve(user, plus, digits.to_string(), home);
    number.prefix_stripped.insert_str(0, technical);
    number.valid.then_some(number)
}
