//! Candidate passwords, in the order one job tries them:
//!
//! 1. patterns derived from the username and realm ([`user_patterns`]);
//! 2. the user-independent patterns: the empty password, `0000`…`9999`, digit runs (`1234`,
//!    `123456`, `654321`…), then 6, 3, 5 and 8 repeated digits;
//! 3. the built-in list of weak VoIP/PBX passwords (`builtin.txt`);
//! 4. every number 0–9999, plus the zero-padded `00`–`09`, `000`–`099`, `0000`–`0999`
//!    (SIPVicious svcrack's default is the range 100–1000);
//! 5. the configured wordlist.
//!
//! 2–5 do not depend on the attempt, so they are deduplicated once, at load, into a
//! [`StaticList`]; a job skips those equal to one of its own patterns.

use std::collections::HashSet;
use std::io::BufRead;
use std::path::Path;

/// Source of a candidate derived from the attempt or generated (digits, numbers).
pub const PATTERN: &str = "pattern";
/// Source of a candidate from the built-in list.
pub const BUILTIN: &str = "builtin";
/// Source of a candidate from the configured wordlist.
pub const WORDLIST: &str = "wordlist";

/// The weak passwords tried after the patterns, one a line.
const BUILTIN_TEXT: &str = include_str!("builtin.txt");

/// The user-independent candidates, deduplicated, in order, packed in one buffer.
pub struct StaticList {
    bytes: Vec<u8>,
    /// `starts[i]..starts[i + 1]` is candidate `i`.
    starts: Vec<usize>,
    /// `(end, source)`: candidates before `end` (and after the previous section) come from
    /// `source`.
    sections: Vec<(usize, &'static str)>,
}

impl StaticList {
    /// Builds the list, reading `wordlist` (if any) once. At most `limit` candidates are kept:
    /// a job tests at most that many, and its own patterns only push the static ones further
    /// back, so nothing past `limit` could ever be tried.
    ///
    /// Wordlist lines lose their trailing CR/LF bytes; empty lines are skipped. Lines that are
    /// not UTF-8 are kept as raw bytes (the digest is over bytes), and reported with `\xNN`
    /// escapes when recovered.
    pub fn load(wordlist: Option<&Path>, limit: usize) -> std::io::Result<StaticList> {
        let mut b = Builder::new(limit);
        b.push(b"", PATTERN);
        let repeated = |n: usize| (b'0'..=b'9').map(move |d| vec![d; n]);
        for candidate in repeated(4) {
            b.push(&candidate, PATTERN);
        }
        for run in DIGIT_RUNS {
            b.push(run.as_bytes(), PATTERN);
        }
        for candidate in [6, 3, 5, 8].into_iter().flat_map(repeated) {
            b.push(&candidate, PATTERN);
        }
        for line in BUILTIN_TEXT.lines() {
            b.push(line.trim_end_matches('\r').as_bytes(), BUILTIN);
        }
        for n in 0..=9999u32 {
            b.push(n.to_string().as_bytes(), PATTERN);
        }
        for (width, below) in [(2, 10), (3, 100), (4, 1000)] {
            for n in 0..below {
                b.push(format!("{n:0width$}").as_bytes(), PATTERN);
            }
        }
        if let Some(path) = wordlist {
            let mut reader = std::io::BufReader::new(std::fs::File::open(path)?);
            let mut line = Vec::new();
            while !b.full() {
                line.clear();
                if reader.read_until(b'\n', &mut line)? == 0 {
                    break;
                }
                while line.last().is_some_and(|&c| c == b'\n' || c == b'\r') {
                    line.pop();
                }
                b.push(&line, WORDLIST);
            }
        }
        Ok(b.list)
    }

    /// Number of candidates.
    pub fn len(&self) -> usize {
        self.starts.len() - 1
    }

    /// Whether there is no candidate at all (`max_candidates` is 0).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every candidate with its source, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &'static str)> + '_ {
        let mut section = 0;
        (0..self.len()).map(move |i| {
            while self.sections[section].0 <= i {
                section += 1;
            }
            (&self.bytes[self.starts[i]..self.starts[i + 1]], self.sections[section].1)
        })
    }
}

/// Digit runs people pick as PINs and passwords.
const DIGIT_RUNS: &[&str] = &[
    "1234",
    "12345",
    "123456",
    "1234567",
    "12345678",
    "123456789",
    "1234567890",
    "0123456789",
    "012345",
    "0123",
    "123",
    "4321",
    "54321",
    "654321",
    "7654321",
    "87654321",
    "987654321",
    "9876543210",
    "321",
];

struct Builder {
    list: StaticList,
    seen: HashSet<Vec<u8>>,
    limit: usize,
}

impl Builder {
    fn new(limit: usize) -> Self {
        let list = StaticList { bytes: Vec::new(), starts: vec![0], sections: Vec::new() };
        Builder { list, seen: HashSet::new(), limit }
    }

    fn full(&self) -> bool {
        self.list.len() >= self.limit
    }

    /// Appends `candidate` unless it is already there, the list is full, or it is an empty
    /// line of a list (the empty password is a pattern, pushed first).
    fn push(&mut self, candidate: &[u8], source: &'static str) {
        if self.full() || (candidate.is_empty() && source != PATTERN) || self.seen.contains(candidate) {
            return;
        }
        self.seen.insert(candidate.to_vec());
        let list = &mut self.list;
        list.bytes.extend_from_slice(candidate);
        list.starts.push(list.bytes.len());
        match list.sections.last_mut() {
            Some((end, s)) if *s == source => *end += 1,
            _ => list.sections.push((list.len(), source)),
        }
    }
}

/// The candidates derived from the attempt's username and realm, in order, without
/// duplicates: what crackers try first (svcrack always starts with the username).
pub fn user_patterns(user: &str, realm: &str) -> Vec<Vec<u8>> {
    let reversed: String = user.chars().rev().collect();
    let mut capitalized = user.to_owned();
    if let Some(first) = capitalized.get_mut(..1) {
        first.make_ascii_uppercase();
    }
    let all = [
        user.to_owned(),
        format!("{user}{user}"),
        reversed,
        format!("{user}123"),
        format!("{user}1234"),
        format!("{user}!"),
        format!("{user}0"),
        format!("1234{user}"),
        realm.to_owned(),
        format!("{realm}{user}"),
        format!("{user}1"),
        format!("{user}12"),
        format!("{user}12345"),
        format!("{user}123456"),
        format!("{user}@123"),
        format!("{user}pass"),
        format!("{user}{realm}"),
        format!("{realm}123"),
        capitalized,
        user.to_ascii_uppercase(),
    ];
    let mut out: Vec<Vec<u8>> = Vec::with_capacity(all.len());
    for candidate in all {
        if !out.iter().any(|c| *c == candidate.as_bytes()) {
            out.push(candidate.into_bytes());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_list_order_sources_and_dedupe() {
        let list = StaticList::load(None, usize::MAX).unwrap();
        let all: Vec<_> = list.iter().collect();
        assert_eq!(all.len(), list.len());
        assert_eq!(all[0], (&b""[..], PATTERN));
        assert_eq!(all[1], (&b"0000"[..], PATTERN));
        assert_eq!(all[10], (&b"9999"[..], PATTERN));
        assert_eq!(all[11], (&b"1234"[..], PATTERN));
        let pos = |c: &[u8]| all.iter().position(|(x, _)| *x == c).unwrap();
        assert!(pos(b"1234") < pos(b"password") && pos(b"password") < pos(b"100"));
        assert_eq!(all[pos(b"password")].1, BUILTIN);
        assert_eq!(all[pos(b"100")].1, PATTERN);
        assert_eq!(all[pos(b"0999")].1, PATTERN);
        // "1212" is both a builtin line and a number: kept once, where it came first.
        assert_eq!(all[pos(b"1212")].1, BUILTIN);
        let unique: HashSet<&[u8]> = all.iter().map(|(c, _)| *c).collect();
        assert_eq!(unique.len(), all.len());
        let builtin = all.iter().filter(|(_, s)| *s == BUILTIN).count();
        assert!(builtin >= 250, "{builtin}");
        assert!(all.iter().skip(1).all(|(c, _)| !c.is_empty()));
    }

    #[test]
    fn static_list_limit() {
        let list = StaticList::load(None, 3).unwrap();
        let all: Vec<_> = list.iter().map(|(c, _)| c.to_vec()).collect();
        assert_eq!(all, [b"".to_vec(), b"0000".to_vec(), b"1111".to_vec()]);
        assert_eq!(StaticList::load(None, 0).unwrap().iter().count(), 0);
    }

    #[test]
    fn patterns_from_user_and_realm() {
        let p = user_patterns("101", "asterisk");
        let text: Vec<&str> = p.iter().map(|c| std::str::from_utf8(c).unwrap()).collect();
        let expected = ["101", "101101", "101123", "1011234", "101!", "1010", "1234101", "asterisk", "asterisk101"];
        assert_eq!(text[..expected.len()], expected);
        // The reversed username is a duplicate for palindromes, and case forms of digits too.
        assert_eq!(text.iter().filter(|s| **s == "101").count(), 1);
        let p = user_patterns("bob", "pbx");
        assert!(p.contains(&b"bob".to_vec()) && p.contains(&b"Bob".to_vec()) && p.contains(&b"BOB".to_vec()));
        assert!(p.contains(&b"pbxbob".to_vec()));
        let p = user_patterns("", "");
        assert_eq!(p[0], b"");
    }
}
