//! What an import of SentryPeer files did, as text and JSON.

use serde::Serialize;
use std::collections::BTreeMap;

/// The most refused rows and unreadable files listed by number; the rest are only counted.
pub const MAX_LISTED_PROBLEMS: usize = 100;

/// The longest attacker value (a method name) or problem printed, characters.
const SHOWN_CHARS: usize = 300;

/// Counts of one `sipscope import sentrypeer` run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportSummary {
    /// Files read (completely, or up to an error).
    pub files: u64,
    /// Files skipped: the same content was imported completely before.
    pub files_already_imported: u64,
    /// Files that could not be read at all, or only in part (their rows read stay).
    pub files_failed: u64,
    /// Rows (JSON lines that are not blank, `honey` rows) read.
    pub rows: u64,
    /// Rows with the message text, handed to the pipeline.
    pub messages: u64,
    /// Of those, messages that parse as SIP.
    pub sip_messages: u64,
    /// Messages whose text does not parse as SIP (stored as `invalid`, like the honeypot's).
    pub unparsed_messages: u64,
    /// SIP messages by method (requests) or status class.
    pub methods: BTreeMap<String, u64>,
    /// Messages without a transport SentryPeer named (stored as UDP with `transport_unknown`).
    pub transport_unknown: u64,
    /// Rows without message text: counted here by method, never stored as events.
    pub rows_without_message: BTreeMap<String, u64>,
    /// Rows refused (listed in `problem_list` with their line number or `honey_id`).
    pub rows_refused: u64,
    /// Events stored.
    pub events_stored: u64,
    /// Events of an earlier, interrupted import of the same file that were replaced.
    pub events_replaced: u64,
    /// Problems, the first [`MAX_LISTED_PROBLEMS`].
    pub problem_list: Vec<String>,
    /// Problems in all.
    pub problems: u64,
    /// Seconds taken.
    pub elapsed_s: f64,
}

impl ImportSummary {
    /// Notes a problem (listed while there is room, always counted).
    pub fn problem(&mut self, text: String) {
        self.problems += 1;
        if self.problem_list.len() < MAX_LISTED_PROBLEMS {
            self.problem_list.push(text);
        }
    }

    /// Whether anything could not be imported (the command then exits with status 1).
    pub fn skipped_anything(&self) -> bool {
        self.rows_refused > 0 || self.files_failed > 0
    }

    /// Rows without message text, in all.
    pub fn without_message(&self) -> u64 {
        self.rows_without_message.values().sum()
    }

    /// The summary for a terminal; file names and problems are escaped.
    pub fn to_text(&self) -> String {
        let terminal = |t: &str| crate::output::escape::terminal(t, SHOWN_CHARS);
        use std::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "SentryPeer import: {} files ({} already imported, {} failed), {} rows in {:.2} s",
            self.files, self.files_already_imported, self.files_failed, self.rows, self.elapsed_s
        );
        let _ = writeln!(
            s,
            "  messages: {} ({} SIP, {} not SIP), transport unknown: {}",
            self.messages, self.sip_messages, self.unparsed_messages, self.transport_unknown
        );
        let methods: Vec<String> = self.methods.iter().map(|(m, n)| format!("{} {n}", terminal(m))).collect();
        if !methods.is_empty() {
            let _ = writeln!(s, "  by method: {}", methods.join(", "));
        }
        let _ = writeln!(s, "  events stored: {} (replaced: {})", self.events_stored, self.events_replaced);
        if !self.rows_without_message.is_empty() {
            let by: Vec<String> =
                self.rows_without_message.iter().map(|(m, n)| format!("{} {n}", terminal(m))).collect();
            let _ = writeln!(
                s,
                "  rows without message text (counted, not stored): {} ({})",
                self.without_message(),
                by.join(", ")
            );
        }
        let _ = writeln!(s, "  rows refused: {}", self.rows_refused);
        for p in &self.problem_list {
            let _ = writeln!(s, "  ! {}", terminal(p));
        }
        if self.problems > self.problem_list.len() as u64 {
            let _ = writeln!(s, "  ! … {} more problems", self.problems - self.problem_list.len() as u64);
        }
        s
    }
}
