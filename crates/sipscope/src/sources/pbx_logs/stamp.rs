//! Times in PBX log lines: the line's own stamp is the event's time, so that a log read a
//! day later (or replayed from an archive) puts every attempt where it happened.
//!
//! Forms read at the start of a line (after a syslog `<PRI>`, an RFC 5424 version, a
//! FreeSWITCH session UUID or Asterisk's `[`):
//! - `2024-01-10 12:34:56`, `2024-01-10T12:34:56.123456+01:00`, `…Z`, `…+0100` (Asterisk's
//!   `%F %T`, FreeSWITCH, journald `short-iso`, RFC 5424, rsyslog's high-precision stamps);
//! - `Jan 10 12:34:56`, `Jan  9 12:34:56` (Asterisk's default `%b %e %T`, RFC 3164 syslog),
//!   `01-10 12:34:56.123456` (FreeSWITCH with a date format without the year): no year, so the year is the one that puts the time at most a day after the reference
//!   time (the file's modification time).
//!
//! A stamp without a zone is local time of the PBX; [`TimeContext::utc_offset_s`] says which
//! (default UTC). Asterisk security events carry `EventTV` in both of Asterisk's forms:
//! `1704889296-123456` (seconds-microseconds, older releases) and `2024-01-10T12:34:56.123+0100`.

use crate::time::{days_from_civil, DAY_NS, SECOND_NS};

/// What a line's stamp is read against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeContext {
    /// Offset of the PBX's local time from UTC, seconds, for stamps without a zone.
    pub utc_offset_s: i64,
    /// A time at or after the line was written (the file's modification time), ns: the year
    /// of stamps without one is chosen against it.
    pub reference_ns: i64,
}

const MONTHS: [&[u8; 3]; 12] =
    [b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec"];

/// A cursor over the start of a line.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        (self.peek()? == c).then(|| self.at += 1)
    }

    /// Exactly `n` digits.
    fn number(&mut self, n: usize) -> Option<i64> {
        let digits = self.bytes.get(self.at..self.at + n)?;
        let mut v = 0i64;
        for &d in digits {
            if !d.is_ascii_digit() {
                return None;
            }
            v = v * 10 + i64::from(d - b'0');
        }
        self.at += n;
        Some(v)
    }

    /// `.digits` (or `,digits`) as nanoseconds; nothing is 0. Digits past the ninth are
    /// skipped.
    fn fraction(&mut self) -> i64 {
        if !matches!(self.peek(), Some(b'.' | b',')) || !self.bytes.get(self.at + 1).is_some_and(u8::is_ascii_digit) {
            return 0;
        }
        self.at += 1;
        let (mut ns, mut scale) = (0i64, 100_000_000i64);
        while let Some(d) = self.peek().filter(u8::is_ascii_digit) {
            ns += i64::from(d - b'0') * scale;
            scale /= 10;
            self.at += 1;
        }
        ns
    }

    /// `Z`, `+HH:MM`, `+HHMM`, `+HH`: the offset in seconds; `None` when there is no zone.
    fn zone(&mut self) -> Option<i64> {
        match self.peek()? {
            b'Z' => {
                self.at += 1;
                Some(0)
            }
            sign @ (b'+' | b'-') => {
                let start = self.at;
                self.at += 1;
                let Some(h) = self.number(2) else {
                    self.at = start;
                    return None;
                };
                let _ = self.eat(b':');
                let m = self.number(2).unwrap_or(0);
                let secs = h * 3600 + m * 60;
                Some(if sign == b'-' { -secs } else { secs })
            }
            _ => None,
        }
    }

    /// `HH:MM:SS[.frac]` as (seconds of the day, ns).
    fn clock(&mut self) -> Option<(i64, i64)> {
        let h = self.number(2)?;
        self.eat(b':')?;
        let m = self.number(2)?;
        self.eat(b':')?;
        let s = self.number(2)?;
        (h < 24 && m < 60 && s < 61).then_some(())?;
        Some((h * 3600 + m * 60 + s, self.fraction()))
    }
}

fn valid_date(y: i64, m: i64, d: i64) -> bool {
    (1970..=9999).contains(&y) && (1..=12).contains(&m) && (1..=31).contains(&d)
}

fn instant(day: i64, secs: i64, frac: i64, offset_s: i64) -> Option<i64> {
    (day * 86_400 + secs - offset_s).checked_mul(SECOND_NS)?.checked_add(frac)
}

/// `YYYY-MM-DD[T ]HH:MM:SS[.frac][zone]`.
fn iso(c: &mut Cursor<'_>, ctx: &TimeContext) -> Option<i64> {
    let y = c.number(4)?;
    c.eat(b'-')?;
    let m = c.number(2)?;
    c.eat(b'-')?;
    let d = c.number(2)?;
    valid_date(y, m, d).then_some(())?;
    match c.peek()? {
        b'T' | b' ' => c.at += 1,
        _ => return None,
    }
    let (secs, frac) = c.clock()?;
    let offset = c.zone().unwrap_or(ctx.utc_offset_s);
    instant(days_from_civil(y, m, d), secs, frac, offset)
}

/// `Mon DD HH:MM:SS[.frac]` (day space-padded or not), the year inferred.
fn month_day(c: &mut Cursor<'_>, ctx: &TimeContext) -> Option<i64> {
    let name = c.bytes.get(c.at..c.at + 3)?;
    let m = MONTHS.iter().position(|n| n.as_slice() == name)? as i64 + 1;
    c.at += 3;
    c.eat(b' ')?;
    let _ = c.eat(b' ');
    let d = match c.number(2) {
        Some(d) => d,
        None => c.number(1)?,
    };
    c.eat(b' ')?;
    year_inferred(c, m, d, ctx)
}

/// `MM-DD HH:MM:SS[.frac]` (FreeSWITCH with a date format without the year), the year
/// inferred.
fn numeric_month_day(c: &mut Cursor<'_>, ctx: &TimeContext) -> Option<i64> {
    let m = c.number(2)?;
    c.eat(b'-')?;
    let d = c.number(2)?;
    c.eat(b' ')?;
    year_inferred(c, m, d, ctx)
}

/// The clock after a month and day: the year is the one that puts the time at most a day
/// after the reference time.
fn year_inferred(c: &mut Cursor<'_>, m: i64, d: i64, ctx: &TimeContext) -> Option<i64> {
    let (secs, frac) = c.clock()?;
    let (year, _, _) = crate::time::civil_from_days(ctx.reference_ns.div_euclid(DAY_NS));
    valid_date(year, m, d).then_some(())?;
    let at = |y| instant(days_from_civil(y, m, d), secs, frac, ctx.utc_offset_s);
    let this_year = at(year)?;
    if this_year > ctx.reference_ns.saturating_add(DAY_NS) {
        at(year - 1)
    } else {
        Some(this_year)
    }
}

/// Skips what may stand before a line's stamp: a syslog `<PRI>` and RFC 5424 version, a
/// FreeSWITCH session UUID, Asterisk's `[`.
fn skip_lead(c: &mut Cursor<'_>) {
    if c.peek() == Some(b'<') {
        if let Some(end) = c.bytes.iter().take(6).position(|&b| b == b'>') {
            c.at = end + 1;
            if c.bytes.get(c.at..c.at + 2) == Some(b"1 ") {
                c.at += 2;
            }
        }
    }
    let rest = c.bytes.get(c.at..).unwrap_or_default();
    let uuid = rest.len() > 37
        && rest.get(36) == Some(&b' ')
        && rest.get(8) == Some(&b'-')
        && rest.iter().take(36).all(|b| b.is_ascii_hexdigit() || *b == b'-');
    if uuid {
        c.at += 37;
    }
    let _ = c.eat(b'[');
}

/// The time stamped at the start of `line`, if it has one of the known forms.
pub fn line_start(line: &[u8], ctx: &TimeContext) -> Option<i64> {
    let mut c = Cursor { bytes: line, at: 0 };
    skip_lead(&mut c);
    let start = c.at;
    if c.peek()?.is_ascii_digit() {
        iso(&mut c, ctx).or_else(|| {
            c.at = start;
            numeric_month_day(&mut c, ctx)
        })
    } else {
        c.at = start;
        month_day(&mut c, ctx)
    }
}

/// An Asterisk `EventTV` value: `seconds-microseconds` or an ISO time with a zone.
pub fn event_tv(value: &[u8], ctx: &TimeContext) -> Option<i64> {
    if let Some(dash) = value.iter().position(|&b| b == b'-').filter(|&d| d != 4) {
        let (secs, micros) = (value.get(..dash)?, value.get(dash + 1..)?);
        let number = |s: &[u8]| -> Option<i64> {
            (!s.is_empty() && s.len() <= 12 && s.iter().all(u8::is_ascii_digit))
                .then(|| s.iter().fold(0i64, |v, d| v * 10 + i64::from(d - b'0')))
        };
        let (secs, micros) = (number(secs)?, number(micros)?);
        (micros < 1_000_000).then_some(())?;
        return secs.checked_mul(SECOND_NS)?.checked_add(micros * 1000);
    }
    let mut c = Cursor { bytes: value, at: 0 };
    let t = iso(&mut c, ctx)?;
    (c.at == value.len()).then_some(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2024-01-10T12:34:56Z.
    const T: i64 = 1_704_890_096 * SECOND_NS;

    fn ctx() -> TimeContext {
        TimeContext { utc_offset_s: 0, reference_ns: T + DAY_NS }
    }

    #[test]
    fn line_stamps() {
        let c = ctx();
        assert_eq!(line_start(b"[2024-01-10 12:34:56] NOTICE[1]", &c), Some(T));
        assert_eq!(line_start(b"[2024-01-10 12:34:56.250] NOTICE", &c), Some(T + 250_000_000));
        assert_eq!(line_start(b"[Jan 10 12:34:56] NOTICE[1]", &c), Some(T));
        assert_eq!(line_start(b"Jan 10 12:34:56 pbx asterisk[1]:", &c), Some(T));
        assert_eq!(line_start(b"2024-01-10T13:34:56.000001+01:00 pbx asterisk[1]:", &c), Some(T + 1000));
        assert_eq!(line_start(b"2024-01-10T12:34:56Z pbx", &c), Some(T));
        assert_eq!(line_start(b"<13>1 2024-01-10T12:34:56.5Z pbx", &c), Some(T + 500_000_000));
        assert_eq!(line_start(b"2024-01-10 12:34:56.123456 [WARNING] sofia_reg.c:1", &c), Some(T + 123_456_000));
        let uuid = b"0b3f1e3c-77a2-4a53-8a1c-6c7d1b1b9f0e 2024-01-10 12:34:56.000000 [WARNING]";
        assert_eq!(line_start(uuid, &c), Some(T));
        assert_eq!(line_start(b"01-10 12:34:56.026292 [WARN] [SOFIA] [sofia_reg.c:4130]", &c), Some(T + 26_292_000));
        let local = TimeContext { utc_offset_s: 3600, ..c };
        assert_eq!(line_start(b"[2024-01-10 13:34:56] NOTICE", &local), Some(T));
        for bad in [
            &b""[..],
            b"[",
            b"NOTICE",
            b"2024-13-10 12:34:56",
            b"Foo 10 12:34:56",
            b"[Jan 10 25:00:00]",
            b"13-10 12:34:56",
            b"01-10 1:34:56",
        ] {
            assert_eq!(line_start(bad, &c), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn year_is_inferred_from_the_reference() {
        // Read on 2 January 2025: a December stamp is from 2024.
        let jan2 = TimeContext { utc_offset_s: 0, reference_ns: (days_from_civil(2025, 1, 2) * 86_400) * SECOND_NS };
        let dec31 = line_start(b"Dec 31 23:00:00 pbx", &jan2).unwrap();
        assert_eq!(crate::time::civil_from_days(dec31.div_euclid(DAY_NS)), (2024, 12, 31));
        let jan1 = line_start(b"Jan  1 01:00:00 pbx", &jan2).unwrap();
        assert_eq!(crate::time::civil_from_days(jan1.div_euclid(DAY_NS)), (2025, 1, 1));
    }

    #[test]
    fn event_tv_both_forms() {
        let c = ctx();
        assert_eq!(event_tv(b"1704890096-250000", &c), Some(T + 250_000_000));
        assert_eq!(event_tv(b"2024-01-10T13:34:56.250+0100", &c), Some(T + 250_000_000));
        assert_eq!(event_tv(b"2024-01-10T12:34:56.250-0000", &c), Some(T + 250_000_000));
        for bad in [&b"1704890096-"[..], b"-5", b"1704890096-1000000", b"2024-01-10T12:34:56x", b"abc"] {
            assert_eq!(event_tv(bad, &c), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
