//! What a capture run (files or live) saw, for the closing summary (text or JSON) and the exit code.

use serde::Serialize;
use std::collections::BTreeMap;

/// Most problems listed one by one; beyond this they are only counted (a corrupt archive can
/// have millions).
pub const MAX_LISTED_PROBLEMS: usize = 100;

/// Counters of one run over all its files.
#[derive(Debug, Default, Clone, Serialize)]
pub struct CaptureSummary {
    /// Files read to the end.
    pub files: u64,
    /// Files skipped because the same content was ingested before.
    pub files_already_ingested: u64,
    /// Files that could not be opened or are not captures.
    pub files_unreadable: u64,
    /// Earlier files whose records a file of this run contains (the same capture compressed,
    /// or its finished version): their events and analysis were replaced.
    pub files_superseded: u64,
    /// Frames read.
    pub packets: u64,
    /// Bytes of frames read.
    pub bytes: u64,
    /// SIP messages found.
    pub sip_messages: u64,
    /// SIP requests by method (as written; non-UTF-8 escaped).
    pub methods: BTreeMap<String, u64>,
    /// SIP responses by class (`1xx` … `6xx`, `other`).
    pub status_classes: BTreeMap<String, u64>,
    /// SIP messages with at least one anomaly that RFC 3261 forbids.
    pub sip_with_violations: u64,
    /// Packets to or from a SIP port (5060, 5061) whose payload is not SIP (empty probes,
    /// garbage): the telescope study's "invalid packets".
    pub invalid_on_sip_ports: u64,
    /// Other packets without SIP (other ports, other protocols).
    pub non_sip_packets: u64,
    /// Frames that could not be decoded, by reason.
    pub undecodable: BTreeMap<String, u64>,
    /// Frames cut by the capture's snap length.
    pub snaplen_cut: u64,
    /// Live capture: packets the kernel dropped because the capture buffer was full (always 0
    /// for files). Left out of the JSON when 0.
    #[serde(skip_serializing_if = "is_zero")]
    pub kernel_dropped: u64,
    /// Live capture: packets the network interface or its driver dropped (always 0 for files).
    /// Left out of the JSON when 0.
    #[serde(skip_serializing_if = "is_zero")]
    pub interface_dropped: u64,
    /// IP datagrams rebuilt from fragments.
    pub reassembled_datagrams: u64,
    /// Datagrams whose fragments never all arrived (dropped at the timeout, the memory cap or
    /// the end of the capture).
    pub incomplete_datagrams: u64,
    /// Fragments that overlapped others.
    pub overlapping_fragments: u64,
    /// TCP streams that carried data.
    pub tcp_streams: u64,
    /// TCP stream directions read as WebSocket (after an HTTP upgrade, or by their frames).
    pub websocket_streams: u64,
    /// WebSocket messages skipped: over the size limit, compressed (permessage-deflate), or
    /// fragments broken off by another message.
    pub websocket_messages_skipped: u64,
    /// SCTP user messages rebuilt from several DATA chunks.
    pub sctp_reassembled_messages: u64,
    /// SCTP DATA chunks of user messages never completed (timeout, memory limits, the end of
    /// the capture) or over the size limit.
    pub sctp_fragments_dropped: u64,
    /// Packets whose IP header declared more bytes than were captured, decoded as far as the
    /// bytes go (their messages carry the `ip_truncated` anomaly).
    pub ip_truncated: u64,
    /// Events written to the store.
    pub events_stored: u64,
    /// Alerts the rules raised.
    pub alerts_raised: u64,
    /// Events deleted because this run stores the same records again: an interrupted or
    /// `--force`d earlier run of the same file, or a superseded file.
    pub events_replaced: u64,
    /// Damage in the files, counted.
    pub problems: u64,
    /// The first damage reports, each with file and packet.
    pub problem_list: Vec<String>,
    /// Wall time, seconds.
    pub elapsed_s: f64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl CaptureSummary {
    /// Records a damage report.
    pub fn problem(&mut self, text: String) {
        self.problems += 1;
        if self.problem_list.len() < MAX_LISTED_PROBLEMS {
            self.problem_list.push(text);
        }
    }

    /// Adds what the pipeline counted (messages, methods, classes, events) to the capture's
    /// own counters (frames, files, damage).
    pub fn absorb(&mut self, c: &crate::pipeline::Counters) {
        self.sip_messages += c.sip_messages;
        self.sip_with_violations += c.sip_with_violations;
        for (m, n) in &c.methods {
            *self.methods.entry(m.clone()).or_default() += n;
        }
        for (class, n) in &c.status_classes {
            *self.status_classes.entry(class.clone()).or_default() += n;
        }
        self.non_sip_packets += c.non_sip;
        self.events_stored += c.events_stored;
        self.alerts_raised += c.alerts_raised;
    }

    /// Counts one frame read.
    pub fn frame(&mut self, frame: &crate::sources::pcap::Frame<'_>) {
        self.packets += 1;
        self.bytes += frame.data.len() as u64;
        if (frame.data.len() as u64) < u64::from(frame.orig_len) {
            self.snaplen_cut += 1;
        }
    }

    /// True when something was skipped (unreadable files, damage): the exit code says so.
    pub fn skipped_anything(&self) -> bool {
        self.files_unreadable > 0 || self.problems > 0
    }

    /// The human-readable summary.
    pub fn to_text(&self) -> String {
        let rate = |n: u64| if self.elapsed_s > 0.0 { n as f64 / self.elapsed_s } else { 0.0 };
        let mut out = String::new();
        let mut line = |label: &str, value: String| out.push_str(&format!("{label:<28} {value}\n"));
        line(
            "files",
            format!(
                "{} read, {} already ingested, {} unreadable, {} earlier superseded",
                self.files, self.files_already_ingested, self.files_unreadable, self.files_superseded
            ),
        );
        line("packets", format!("{} ({:.0}/s, {} bytes)", self.packets, rate(self.packets), self.bytes));
        line(
            "SIP messages",
            format!(
                "{} ({:.0}/s), {} break RFC 3261",
                self.sip_messages,
                rate(self.sip_messages),
                self.sip_with_violations
            ),
        );
        let methods = self.methods.iter().map(|(m, n)| format!("{m} {n}")).collect::<Vec<_>>().join(", ");
        line("  requests", if methods.is_empty() { "none".into() } else { methods });
        let classes = self.status_classes.iter().map(|(c, n)| format!("{c} {n}")).collect::<Vec<_>>().join(", ");
        line("  responses", if classes.is_empty() { "none".into() } else { classes });
        line("invalid on SIP ports", self.invalid_on_sip_ports.to_string());
        line("non-SIP packets", self.non_sip_packets.to_string());
        let undecodable = self.undecodable.iter().map(|(r, n)| format!("{r} {n}")).collect::<Vec<_>>().join(", ");
        line("undecodable frames", if undecodable.is_empty() { "0".into() } else { undecodable });
        line("snaplen-cut frames", self.snaplen_cut.to_string());
        if self.kernel_dropped > 0 || self.interface_dropped > 0 {
            line(
                "dropped in capture",
                format!("{} by the kernel, {} by the interface", self.kernel_dropped, self.interface_dropped),
            );
        }
        line(
            "reassembled datagrams",
            format!(
                "{} ({} overlapping fragments, {} incomplete)",
                self.reassembled_datagrams, self.overlapping_fragments, self.incomplete_datagrams
            ),
        );
        line("TCP streams", self.tcp_streams.to_string());
        if self.websocket_streams > 0 || self.websocket_messages_skipped > 0 {
            line(
                "  WebSocket",
                format!("{} directions, {} messages skipped", self.websocket_streams, self.websocket_messages_skipped),
            );
        }
        if self.sctp_reassembled_messages > 0 || self.sctp_fragments_dropped > 0 {
            line(
                "SCTP messages reassembled",
                format!("{} ({} fragments dropped)", self.sctp_reassembled_messages, self.sctp_fragments_dropped),
            );
        }
        if self.ip_truncated > 0 {
            line("IP cut by the capture", format!("{} packets, decoded as far as the bytes go", self.ip_truncated));
        }
        line(
            "events stored",
            format!("{} ({} replaced: stored before from the same records)", self.events_stored, self.events_replaced),
        );
        line("alerts raised", self.alerts_raised.to_string());
        line("elapsed", format!("{:.2} s", self.elapsed_s));
        line("damage", self.problems.to_string());
        for p in &self.problem_list {
            out.push_str(&format!("  {p}\n"));
        }
        if self.problems as usize > self.problem_list.len() {
            out.push_str(&format!("  … and {} more\n", self.problems as usize - self.problem_list.len()));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_text() {
        let mut c = crate::pipeline::Counters::default();
        c.sip(Some("OPTIONS"), None, false);
        c.sip(Some("OPTIONS"), None, true);
        c.sip(None, Some(404), false);
        c.sip(None, Some(4_294_967), false);
        let mut s = CaptureSummary::default();
        s.absorb(&c);
        for i in 0..(MAX_LISTED_PROBLEMS + 3) {
            s.problem(format!("p{i}"));
        }
        assert_eq!(s.methods["OPTIONS"], 2);
        assert_eq!(s.status_classes["4xx"], 1);
        assert_eq!(s.status_classes["other"], 1);
        assert_eq!(s.problem_list.len(), MAX_LISTED_PROBLEMS);
        assert!(s.skipped_anything());
        let text = s.to_text();
        assert!(text.contains("OPTIONS 2"), "{text}");
        assert!(text.contains("… and 3 more"), "{text}");
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["sip_messages"], 4);
        // Capture drops show only when there are some.
        assert!(!text.contains("dropped in capture") && json.get("kernel_dropped").is_none(), "{text}");
        s.kernel_dropped = 7;
        assert!(s.to_text().contains("7 by the kernel, 0 by the interface"));
        assert_eq!(serde_json::to_value(&s).unwrap()["kernel_dropped"], 7);
    }
}
