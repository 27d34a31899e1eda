//! Time and the calendar, in one place: event times are nanoseconds since the Unix epoch (UTC)
//! everywhere, and every conversion to days, hours, dates and printed forms lives here.
//!
//! [`now_ns`] is the only function in the application that reads the wall clock for event
//! time; it is called at the edges (a listener stamping what it received, a run's bookkeeping),
//! never by the pipeline, the analysis or the PBX, which take time as a parameter.

/// Nanoseconds in a second.
pub const SECOND_NS: i64 = 1_000_000_000;
/// Nanoseconds in an hour (the hourly totals' bucket).
pub const HOUR_NS: i64 = 3_600 * SECOND_NS;
/// Nanoseconds in a UTC day.
pub const DAY_NS: i64 = 86_400 * SECOND_NS;

/// Now, in nanoseconds since the Unix epoch (0 before 1970, saturated far in the future).
pub fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The UTC day number (days since 1970-01-01) of a time.
pub fn day_of(ts_ns: i64) -> i64 {
    ts_ns.div_euclid(DAY_NS)
}

/// The hour number (hours since the epoch) of a time.
pub fn hour_of(ts_ns: i64) -> i64 {
    ts_ns.div_euclid(HOUR_NS)
}

/// Gregorian (year, month, day) of a day count since 1970-01-01 (Howard Hinnant's algorithm).
pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Day count since 1970-01-01 of a Gregorian date (the inverse of [`civil_from_days`]).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `2026-11-30T05:51:46Z` for a time (logs, reports).
pub fn iso_time(ts_ns: i64) -> String {
    let secs = ts_ns.div_euclid(SECOND_NS);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// `2026-11-30T05:51:46.123456+00:00`: RFC 3339 with microseconds and an explicit offset (the
/// alert outputs: EVE JSON, syslog).
pub fn rfc3339_micros(ts_ns: i64) -> String {
    let secs = ts_ns.div_euclid(SECOND_NS);
    let micros = ts_ns.rem_euclid(SECOND_NS) / 1000;
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}+00:00", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// `2026-11-30T05:51:46.123456789Z`: RFC 3339 with nanoseconds, UTC (the REST API's times).
pub fn rfc3339_nanos(ts_ns: i64) -> String {
    let secs = ts_ns.div_euclid(SECOND_NS);
    let nanos = ts_ns.rem_euclid(SECOND_NS);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{nanos:09}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// `2026-11-30` for a day number.
pub fn iso_date(day: i64) -> String {
    let (y, m, d) = civil_from_days(day);
    format!("{y:04}-{m:02}-{d:02}")
}

/// `Mon, 30 Nov 2026 05:51:46 GMT` (RFC 3261 §20.17, the RFC 1123 form) for a time.
pub fn http_date(ts_ns: i64) -> String {
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let secs = ts_ns.div_euclid(SECOND_NS);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    // Both indexes are in range by construction (rem_euclid, month 1..=12).
    let weekday = WEEKDAYS.get(days.rem_euclid(7) as usize).copied().unwrap_or("Thu");
    let month = MONTHS.get((m - 1) as usize).copied().unwrap_or("Jan");
    format!("{weekday}, {d:02} {month} {y} {:02}:{:02}:{:02} GMT", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Parses a duration, `90`, `90s`, `15m`, `2h` or `7d`, into nanoseconds (at least a second).
pub fn parse_duration(s: &str) -> Result<i64, String> {
    let bad = || format!("expected a duration such as 90s, 15m, 2h or 7d, not {s:?}");
    let s = s.trim();
    let (digits, unit) = match s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let n: i64 = digits.parse().map_err(|_| bad())?;
    let unit_s = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    match n.checked_mul(unit_s).and_then(|secs| secs.checked_mul(SECOND_NS)) {
        Some(ns) if ns > 0 => Ok(ns),
        _ => Err(bad()),
    }
}

/// Parses `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM:SSZ` or Unix seconds into a time.
pub fn parse_time(s: &str) -> Result<i64, String> {
    if let Ok(secs) = s.parse::<i64>() {
        return Ok(secs.saturating_mul(SECOND_NS));
    }
    let bad = || format!("expected YYYY-MM-DD, YYYY-MM-DDTHH:MM:SS[.fraction]Z or Unix seconds, not {s:?}");
    let (date, time) = s.split_once('T').unwrap_or((s, "00:00:00Z"));
    let d: Vec<i64> = date.split('-').map(|p| p.parse().map_err(|_| bad())).collect::<Result<_, _>>()?;
    // A fraction of a second (browsers' `toISOString` writes milliseconds): 1 to 9 digits.
    let (time, fraction_ns) = match time.trim_end_matches('Z').split_once('.') {
        None => (time.trim_end_matches('Z'), 0),
        Some((whole, digits)) => {
            if digits.is_empty() || digits.len() > 9 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            let value: i64 = digits.parse().map_err(|_| bad())?;
            (whole, value * 10_i64.pow(9 - digits.len() as u32))
        }
    };
    let t: Vec<i64> = time.split(':').map(|p| p.parse().map_err(|_| bad())).collect::<Result<_, _>>()?;
    let (&[y, m, day], &[hh, mm, ss]) = (&d[..], &t[..]) else {
        return Err(bad());
    };
    let in_range = (0..=9999).contains(&y)
        && (1..=12).contains(&m)
        && (1..=31).contains(&day)
        && (0..=23).contains(&hh)
        && (0..=59).contains(&mm)
        && (0..=60).contains(&ss);
    if !in_range {
        return Err(bad());
    }
    let days = days_from_civil(y, m, day);
    // Times are nanoseconds in an i64: about 1677-09-21 to 2262-04-11.
    (days * 86_400 + hh * 3600 + mm * 60 + ss)
        .checked_mul(SECOND_NS)
        .and_then(|ns| ns.checked_add(fraction_ns))
        .ok_or_else(|| format!("{s:?} is outside the years 1678 to 2261"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_outside_the_range_of_nanoseconds_are_refused_not_wrapped() {
        assert!(parse_time("0000-01-01").is_err());
        assert!(parse_time("9999-12-31T23:59:59Z").is_err());
        assert!(parse_time("2026-01-01T-1:00:00Z").is_err());
        assert!(parse_time("99999999999999-01-01").is_err());
        assert_eq!(parse_time("1970-01-01T00:00:01Z"), Ok(SECOND_NS));
    }

    #[test]
    fn fractions_of_a_second_as_browsers_write_them() {
        assert_eq!(parse_time("1970-01-01T00:00:01.250Z"), Ok(SECOND_NS + 250_000_000));
        assert_eq!(parse_time("1970-01-01T00:00:01.000000001Z"), Ok(SECOND_NS + 1));
        assert_eq!(parse_time("2026-12-06T13:00:00.000Z"), parse_time("2026-12-06T13:00:00Z"));
        for bad in [
            "1970-01-01T00:00:01.Z",
            "1970-01-01T00:00:01.1234567890Z",
            "1970-01-01T00:00:01.-5Z",
            "1970-01-01T00:00:01.5e3Z",
            "1970-01-01T00:00:01.+5Z",
        ] {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn printed_forms() {
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(http_date(1_796_017_906 * SECOND_NS), "Mon, 30 Nov 2026 05:51:46 GMT");
        assert_eq!(http_date(951_782_400 * SECOND_NS), "Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(iso_time(1_796_017_906 * SECOND_NS), "2026-11-30T05:51:46Z");
        assert_eq!(iso_time(-SECOND_NS), "1969-12-31T23:59:59Z");
        assert_eq!(rfc3339_micros(1_796_017_906 * SECOND_NS + 123_456_789), "2026-11-30T05:51:46.123456+00:00");
        assert_eq!(rfc3339_micros(-1), "1969-12-31T23:59:59.999999+00:00");
        assert_eq!(rfc3339_nanos(1_796_017_906 * SECOND_NS + 123_456_789), "2026-11-30T05:51:46.123456789Z");
        assert_eq!(iso_date(day_of(1_796_017_906 * SECOND_NS)), "2026-11-30");
    }

    #[test]
    fn civil_dates_round_trip() {
        for day in [-800_000, -1, 0, 1, 10_957, 11_016, 20_422, 2_932_896] {
            let (y, m, d) = civil_from_days(day);
            assert_eq!(days_from_civil(y, m, d), day);
        }
    }

    #[test]
    fn parsed_times() {
        assert_eq!(parse_time("1970-01-02"), Ok(DAY_NS));
        assert_eq!(parse_time("2026-11-30T05:51:46Z"), Ok(1_796_017_906 * SECOND_NS));
        assert_eq!(parse_time("60"), Ok(60 * SECOND_NS));
        for bad in ["", "2026-13-01", "2026-11", "yesterday", "2026-11-30T25:00:00Z"] {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
        assert_eq!(hour_of(HOUR_NS * 5 + 1), 5);
        assert_eq!(parse_duration("90"), Ok(90 * SECOND_NS));
        assert_eq!(parse_duration("2h"), Ok(2 * HOUR_NS));
        assert_eq!(parse_duration("7d"), Ok(7 * DAY_NS));
        for bad in ["", "0s", "h", "1w", "-5m", "99999999999999999d", "1.5h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
