//! One SentryPeer "bad actor" as either of its files holds it (a JSON log line or a row of the
//! `honey` table), checked against named limits and turned into what an [`Arrival`] needs.
//!
//! SentryPeer records no ports, and its database no destination: those are stored as port 0
//! and the unspecified address of the source's family, which no real message carries. Its
//! `event_timestamp` is the SentryPeer host's local time without a zone
//! (`YYYY-MM-DD HH:MM:SS.F`), so the caller says the host's offset from UTC; the digits after
//! the point are the nanoseconds as an integer (SentryPeer prints `tv_nsec` with `%06ld`, so
//! `.5000000` is 5 ms, not half a second).
//!
//! [`Arrival`]: crate::pipeline::Arrival

use crate::event::Transport;
use crate::time::{days_from_civil, SECOND_NS};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Bounds on what one row may hold; a row over any of them is refused with its number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportLimits {
    /// Longest JSON log line read, bytes (default 1 MiB). A longer line is skipped to its end.
    pub max_line_bytes: usize,
    /// Longest SIP message text kept, bytes (default 256 KiB: SentryPeer keeps whole UDP
    /// datagrams and TCP messages, far below this).
    pub max_message_bytes: usize,
    /// Longest of every other field, bytes (default 4096).
    pub max_field_bytes: usize,
}

impl Default for ImportLimits {
    fn default() -> Self {
        ImportLimits { max_line_bytes: 1 << 20, max_message_bytes: 256 << 10, max_field_bytes: 4096 }
    }
}

/// A bad actor's fields, as read (absent or empty fields are `None`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Row {
    /// `event_timestamp`: local time of the SentryPeer host.
    pub timestamp: Option<String>,
    /// The `honey` table's `created_at` (UTC, SQLite's `STRFTIME('%Y-%m-%d %H:%M:%f')`), used
    /// when `event_timestamp` is missing.
    pub created_at_utc: Option<String>,
    /// `source_ip`.
    pub source_ip: Option<String>,
    /// `destination_ip` (JSON log only).
    pub destination_ip: Option<String>,
    /// `transport_type`: UDP, TCP or TLS.
    pub transport: Option<String>,
    /// `sip_method` / `method`.
    pub method: Option<String>,
    /// `created_by_node_id`.
    pub node_id: Option<String>,
    /// `sip_message`: the message as SentryPeer re-serialised it (osip), when present.
    pub message: Option<Vec<u8>>,
}

/// Why a row cannot be imported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RowError {
    /// A field is longer than its limit.
    #[error("field {field} is {len} bytes, over the limit of {limit}")]
    TooLong {
        /// The field's name.
        field: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// A field has a type SentryPeer never writes there.
    #[error("field {0} is not a string")]
    NotText(&'static str),
    /// A field that is text is not UTF-8.
    #[error("field {0} is not UTF-8")]
    NotUtf8(&'static str),
    /// No source address.
    #[error("no source_ip")]
    NoSource,
    /// An address that does not parse.
    #[error("field {0} is not an IP address")]
    BadAddress(&'static str),
    /// No time, or one that does not parse.
    #[error("no event_timestamp of the form YYYY-MM-DD HH:MM:SS[.F]")]
    BadTime,
}

/// A row ready for the pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// Event time, ns since the epoch (UTC).
    pub ts_ns: i64,
    /// Source (port 0: not recorded).
    pub src: IpAddr,
    /// Destination (unspecified when not recorded).
    pub dst: IpAddr,
    /// The transport, when SentryPeer named one.
    pub transport: Option<Transport>,
}

impl Row {
    /// Checks a text field against its limit.
    pub fn check_len(field: &'static str, len: usize, limits: &ImportLimits) -> Result<(), RowError> {
        let limit = if field == "sip_message" { limits.max_message_bytes } else { limits.max_field_bytes };
        if len > limit {
            return Err(RowError::TooLong { field, len, limit });
        }
        Ok(())
    }

    /// Time, addresses and transport; `utc_offset_s` is the SentryPeer host's offset from UTC.
    pub fn resolve(&self, utc_offset_s: i64) -> Result<Resolved, RowError> {
        let ts_ns = match (&self.timestamp, &self.created_at_utc) {
            (Some(local), _) => parse_time(local, Fraction::Nanoseconds)
                .and_then(|t| t.checked_sub(utc_offset_s.checked_mul(SECOND_NS)?))
                .ok_or(RowError::BadTime)?,
            (None, Some(utc)) => parse_time(utc, Fraction::Decimal).ok_or(RowError::BadTime)?,
            (None, None) => return Err(RowError::BadTime),
        };
        let src: IpAddr = self
            .source_ip
            .as_deref()
            .ok_or(RowError::NoSource)?
            .trim()
            .parse()
            .map_err(|_| RowError::BadAddress("source_ip"))?;
        let dst = match self.destination_ip.as_deref() {
            Some(d) => d.trim().parse().map_err(|_| RowError::BadAddress("destination_ip"))?,
            None if src.is_ipv4() => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            None => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        };
        let transport = match self.transport.as_deref().map(|t| t.trim().to_ascii_uppercase()).as_deref() {
            Some("UDP") => Some(Transport::Udp),
            Some("TCP") => Some(Transport::Tcp),
            Some("TLS") => Some(Transport::Tls),
            _ => None,
        };
        Ok(Resolved { ts_ns, src, dst, transport })
    }
}

/// What the digits after the seconds' point mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fraction {
    /// Nanoseconds as an integer (SentryPeer's `%06ld` of `tv_nsec`).
    Nanoseconds,
    /// A decimal fraction of a second (SQLite's `%f`).
    Decimal,
}

/// `YYYY-MM-DD HH:MM:SS[.digits]` (or with `T`) as ns since the epoch, taken as UTC.
fn parse_time(s: &str, fraction: Fraction) -> Option<i64> {
    let s = s.trim();
    let (date, time) = s.split_once([' ', 'T'])?;
    let mut d = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
    let mut t = hms.splitn(3, ':').map(|p| p.parse::<i64>().ok());
    let (hh, mm, ss) = (t.next()??, t.next()??, t.next()??);
    if !(1..=12).contains(&m)
        || !(1..=31).contains(&day)
        || !(0..24).contains(&hh)
        || !(0..60).contains(&mm)
        || !(0..=60).contains(&ss)
        || !(0..=9999).contains(&y)
    {
        return None;
    }
    if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits: i64 = if frac.is_empty() { 0 } else { frac.parse().ok()? };
    let ns = match fraction {
        Fraction::Nanoseconds => digits,
        Fraction::Decimal => digits * 10i64.pow(9 - frac.len() as u32),
    };
    let secs = days_from_civil(y, m, day) * 86_400 + hh * 3600 + mm * 60 + ss;
    Some(secs * SECOND_NS + ns)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(ts: &str) -> Row {
        Row { timestamp: Some(ts.into()), source_ip: Some("192.0.2.7".into()), ..Row::default() }
    }

    #[test]
    fn local_time_with_sentrypeers_nanoseconds_and_an_offset() {
        let base = 1_700_000_000 * SECOND_NS; // 2023-11-14 22:13:20 UTC
        assert_eq!(row("2023-11-14 22:13:20.123456789").resolve(0).unwrap().ts_ns, base + 123_456_789);
        // tv_nsec = 5 ms printed with %06ld
        assert_eq!(row("2023-11-14 22:13:20.5000000").resolve(0).unwrap().ts_ns, base + 5_000_000);
        assert_eq!(row("2023-11-14 23:13:20").resolve(3600).unwrap().ts_ns, base);
        assert_eq!(row("2023-11-14T20:13:20").resolve(-7200).unwrap().ts_ns, base);
    }

    #[test]
    fn created_at_is_utc_with_a_decimal_fraction() {
        let r = Row {
            created_at_utc: Some("2023-11-14 22:13:20.250".into()),
            source_ip: Some("::1".into()),
            ..Row::default()
        };
        let got = r.resolve(3600).unwrap();
        assert_eq!(got.ts_ns, 1_700_000_000 * SECOND_NS + 250_000_000);
        assert_eq!(got.dst, IpAddr::V6(Ipv6Addr::UNSPECIFIED));
        assert_eq!(got.transport, None);
    }

    #[test]
    fn bad_times_and_addresses_are_refused() {
        for bad in [
            "",
            "blah",
            "2023-13-01 00:00:00",
            "2023-11-14 24:00:00",
            "2023-11-14 22:13:20.1234567890",
            "2023-11-14 22:13:20.-1",
            "99999999999-01-01 00:00:00",
        ] {
            assert_eq!(row(bad).resolve(0), Err(RowError::BadTime), "{bad}");
        }
        let mut r = row("2023-11-14 22:13:20");
        r.source_ip = Some("1.2.3".into());
        assert_eq!(r.resolve(0), Err(RowError::BadAddress("source_ip")));
        r.source_ip = None;
        assert_eq!(r.resolve(0), Err(RowError::NoSource));
        assert_eq!(row("2023-11-14 22:13:20").resolve(i64::MAX), Err(RowError::BadTime));
    }
}
