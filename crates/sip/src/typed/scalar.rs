//! Single-value headers: CSeq, numbers with range limits, Date.

use crate::text::{self, Number};

/// A CSeq value: sequence number and method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CSeq<'a> {
    /// The number, when it fits in 64 bits (RFC 3261 limits it to 2**31 - 1).
    pub seq: Option<u64>,
    /// The number as written.
    pub seq_raw: &'a [u8],
    /// The method as written.
    pub method: &'a [u8],
}

/// Largest CSeq number RFC 3261 §8.1.1.5 allows.
pub const CSEQ_MAX: u64 = (1 << 31) - 1;
/// Largest delta-seconds value (Expires, Retry-After): RFC 3261 §25 caps it at 2**32 - 1.
pub const DELTA_SECONDS_MAX: u64 = u32::MAX as u64;

impl<'a> CSeq<'a> {
    /// Parses `number LWS method`. `None` when it does not have that shape.
    pub fn parse(value: &'a [u8]) -> Option<CSeq<'a>> {
        let value = text::trim(value);
        let split = value.iter().position(|&b| text::is_lws(b))?;
        let seq_raw = &value[..split];
        let method = text::trim(&value[split..]);
        if !text::is_token(method) || matches!(text::parse_number(seq_raw), Number::Invalid) {
            return None;
        }
        Some(CSeq { seq: text::parse_u64(seq_raw), seq_raw, method })
    }

    /// True when the number is within RFC 3261's range.
    pub fn in_range(&self) -> bool {
        self.seq.is_some_and(|n| n <= CSEQ_MAX)
    }
}

/// Reads a header that holds one unsigned decimal (Max-Forwards, Expires, Content-Length) and
/// possibly a comment or parameters after it (Retry-After). Only the leading number is read.
pub fn leading_number(value: &[u8]) -> Number {
    let value = text::trim(value);
    let end = value.iter().position(|&b| !b.is_ascii_digit()).unwrap_or(value.len());
    if end == 0 {
        return Number::Invalid;
    }
    let rest = text::trim(&value[end..]);
    if !rest.is_empty() && !matches!(rest[0], b'(' | b';') {
        return Number::Invalid;
    }
    text::parse_number(&value[..end])
}

/// Checks an RFC 1123 date as SIP requires it (§20.17): `Sat, 13 Nov 2010 23:29:00 GMT`.
pub fn is_valid_sip_date(value: &[u8]) -> bool {
    let v = text::trim(value);
    let parts: Vec<&[u8]> = v.split(|&b| b == b' ').filter(|p| !p.is_empty()).collect();
    let [wkday, day, month, year, time, zone] = parts.as_slice() else {
        return false;
    };
    const WKDAYS: [&[u8]; 7] = [b"Mon,", b"Tue,", b"Wed,", b"Thu,", b"Fri,", b"Sat,", b"Sun,"];
    const MONTHS: [&[u8]; 12] =
        [b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec"];
    let digits = |s: &[u8], n: usize| s.len() == n && s.iter().all(u8::is_ascii_digit);
    let time_ok = time.len() == 8
        && digits(&time[0..2], 2)
        && time[2] == b':'
        && digits(&time[3..5], 2)
        && time[5] == b':'
        && digits(&time[6..8], 2);
    WKDAYS.contains(wkday) && digits(day, 2) && MONTHS.contains(month) && digits(year, 4) && time_ok && *zone == b"GMT"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cseq_forms() {
        let c = CSeq::parse(b"0009\r\n  INVITE").unwrap();
        assert_eq!((c.seq, c.method), (Some(9), &b"INVITE"[..]));
        let big = CSeq::parse(b"36893488147419103232 REGISTER").unwrap();
        assert_eq!(big.seq, None);
        assert!(!big.in_range());
        assert!(!CSeq::parse(b"2147483648 INVITE").unwrap().in_range());
        assert!(CSeq::parse(b"2147483647 INVITE").unwrap().in_range());
        assert_eq!(CSeq::parse(b"INVITE"), None);
        assert_eq!(CSeq::parse(b"x1 INVITE"), None);
        assert_eq!(CSeq::parse(b""), None);
    }

    #[test]
    fn numbers_with_comments() {
        assert_eq!(leading_number(b" 70 "), Number::Value(70));
        assert_eq!(leading_number(b"120 (I'm in a meeting);duration=60"), Number::Value(120));
        assert_eq!(leading_number(b"-999"), Number::Invalid);
        assert_eq!(leading_number(b"12abc"), Number::Invalid);
        assert_eq!(leading_number(&[b'1'; 100]), Number::Overflow);
    }

    #[test]
    fn dates() {
        assert!(is_valid_sip_date(b"Sat, 13 Nov 2010 23:29:00 GMT"));
        assert!(!is_valid_sip_date(b"Fri, 01 Jan 2010 16:00:00 EST"));
        assert!(!is_valid_sip_date(b"yesterday"));
    }
}
