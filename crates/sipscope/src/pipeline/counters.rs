//! What the pipeline counted: every message a source handed over, by method and status class,
//! and what became of it. Sources add their own counters (frames, files, rate limits) beside.

use serde::Serialize;
use std::collections::BTreeMap;

/// Counters of one pipeline.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Counters {
    /// SIP messages (parsed, or recognised by their start line when nothing needed more).
    pub sip_messages: u64,
    /// Requests by method (as written; non-UTF-8 escaped).
    pub methods: BTreeMap<String, u64>,
    /// Responses by class (`1xx` … `6xx`, `other`).
    pub status_classes: BTreeMap<String, u64>,
    /// Messages with at least one anomaly that RFC 3261 forbids.
    pub sip_with_violations: u64,
    /// Bytes that did not parse and were counted, not kept.
    pub non_sip: u64,
    /// Bytes that did not parse (or were blank) and were kept as `invalid` / `keepalive`.
    pub unparsed_kept: u64,
    /// Events written to the store.
    pub events_stored: u64,
    /// Alerts the rules raised (not counting updates of raised alerts).
    pub alerts_raised: u64,
    /// Writes an alert output or the responder's sink failed; the store was written all the
    /// same.
    pub alert_sink_errors: u64,
    /// Writes an extra sink (JSON Lines) failed; the store was written all the same.
    pub extra_sink_errors: u64,
}

impl Counters {
    /// Counts one SIP message.
    pub fn sip(&mut self, method: Option<&str>, status: Option<u32>, violates: bool) {
        self.sip_messages += 1;
        self.sip_with_violations += u64::from(violates);
        match (method, status) {
            (Some(m), _) => match self.methods.get_mut(m) {
                Some(n) => *n += 1,
                None => {
                    self.methods.insert(m.to_owned(), 1);
                }
            },
            (None, Some(code)) => {
                let class = match code {
                    100..=199 => "1xx",
                    200..=299 => "2xx",
                    300..=399 => "3xx",
                    400..=499 => "4xx",
                    500..=599 => "5xx",
                    600..=699 => "6xx",
                    _ => "other",
                };
                self.count_class(class);
            }
            (None, None) => self.count_class("other"),
        }
    }

    /// Counts a response in its class, allocating only for a class not seen yet.
    fn count_class(&mut self, class: &str) {
        match self.status_classes.get_mut(class) {
            Some(n) => *n += 1,
            None => {
                self.status_classes.insert(class.to_owned(), 1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_and_classes() {
        let mut c = Counters::default();
        c.sip(Some("OPTIONS"), None, false);
        c.sip(Some("OPTIONS"), None, true);
        c.sip(None, Some(404), false);
        c.sip(None, Some(4_294_967), false);
        c.sip(None, None, false);
        assert_eq!(c.methods["OPTIONS"], 2);
        assert_eq!(c.status_classes["4xx"], 1);
        assert_eq!(c.status_classes["other"], 2);
        assert_eq!((c.sip_messages, c.sip_with_violations), (5, 1));
    }
}
