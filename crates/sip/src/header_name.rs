//! Header names: canonical forms, IANA compact forms, and case-insensitive lookup.

macro_rules! header_names {
    ($( $variant:ident = $canonical:literal / $lower:literal $(, compact $compact:literal)? $(, single $single:ident)?; )*) => {
        /// A header name sipscope knows. Anything else is [`HeaderName::Other`] and keeps its
        /// raw spelling in [`crate::Header::name`].
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        #[non_exhaustive]
        pub enum HeaderName {
            $( #[doc = $canonical] $variant, )*
            /// A name not in the table (extension headers, typos).
            Other,
        }

        impl HeaderName {
            /// Every known name, in declaration order.
            pub const KNOWN: &'static [HeaderName] = &[ $( HeaderName::$variant, )* ];
            /// Number of known names (the size of a per-name index).
            pub const COUNT: usize = HeaderName::KNOWN.len();

            /// The canonical spelling (`Call-ID`, `WWW-Authenticate`); `""` for `Other`.
            pub const fn canonical(self) -> &'static str {
                match self { $( HeaderName::$variant => $canonical, )* HeaderName::Other => "" }
            }

            /// The IANA compact form, if the header has one.
            pub const fn compact(self) -> Option<u8> {
                match self { $( $( HeaderName::$variant => Some($compact), )? )* _ => None }
            }

            /// True when RFC 3261 allows at most one instance of the header.
            pub const fn is_single_valued(self) -> bool {
                match self { $( $( HeaderName::$variant => $single, )? )* _ => false }
            }

            /// The lower-case canonical names, in declaration order (the lookup table's source).
            const LOWER: [&'static [u8]; HeaderName::COUNT] = [ $( $lower, )* ];
        }
    };
}

// The most frequent names first: within a length bucket they are tried in this order.
header_names! {
    Via = "Via" / b"via", compact b'v';
    From = "From" / b"from", compact b'f', single true;
    To = "To" / b"to", compact b't', single true;
    CallId = "Call-ID" / b"call-id", compact b'i', single true;
    CSeq = "CSeq" / b"cseq", single true;
    Contact = "Contact" / b"contact", compact b'm';
    MaxForwards = "Max-Forwards" / b"max-forwards", single true;
    ContentLength = "Content-Length" / b"content-length", compact b'l', single true;
    ContentType = "Content-Type" / b"content-type", compact b'c', single true;
    UserAgent = "User-Agent" / b"user-agent", single true;
    Server = "Server" / b"server", single true;
    Expires = "Expires" / b"expires", single true;
    Allow = "Allow" / b"allow";
    Supported = "Supported" / b"supported", compact b'k';
    Accept = "Accept" / b"accept";
    Authorization = "Authorization" / b"authorization";
    ProxyAuthorization = "Proxy-Authorization" / b"proxy-authorization";
    WwwAuthenticate = "WWW-Authenticate" / b"www-authenticate";
    ProxyAuthenticate = "Proxy-Authenticate" / b"proxy-authenticate";
    Date = "Date" / b"date", single true;
    Route = "Route" / b"route";
    RecordRoute = "Record-Route" / b"record-route";
    AcceptContact = "Accept-Contact" / b"accept-contact", compact b'a';
    AcceptEncoding = "Accept-Encoding" / b"accept-encoding";
    AcceptLanguage = "Accept-Language" / b"accept-language";
    AlertInfo = "Alert-Info" / b"alert-info";
    AllowEvents = "Allow-Events" / b"allow-events", compact b'u';
    AuthenticationInfo = "Authentication-Info" / b"authentication-info";
    CallInfo = "Call-Info" / b"call-info";
    ContentDisposition = "Content-Disposition" / b"content-disposition";
    ContentEncoding = "Content-Encoding" / b"content-encoding", compact b'e';
    ContentLanguage = "Content-Language" / b"content-language";
    ErrorInfo = "Error-Info" / b"error-info";
    Event = "Event" / b"event", compact b'o';
    Identity = "Identity" / b"identity", compact b'y';
    IdentityInfo = "Identity-Info" / b"identity-info", compact b'n';
    InReplyTo = "In-Reply-To" / b"in-reply-to";
    MimeVersion = "MIME-Version" / b"mime-version", single true;
    MinExpires = "Min-Expires" / b"min-expires", single true;
    Organization = "Organization" / b"organization", single true;
    PAssertedIdentity = "P-Asserted-Identity" / b"p-asserted-identity";
    PPreferredIdentity = "P-Preferred-Identity" / b"p-preferred-identity";
    Priority = "Priority" / b"priority", single true;
    Privacy = "Privacy" / b"privacy";
    ProxyRequire = "Proxy-Require" / b"proxy-require";
    RAck = "RAck" / b"rack", single true;
    Reason = "Reason" / b"reason";
    ReferTo = "Refer-To" / b"refer-to", compact b'r', single true;
    ReferredBy = "Referred-By" / b"referred-by", compact b'b', single true;
    RejectContact = "Reject-Contact" / b"reject-contact", compact b'j';
    RemotePartyId = "Remote-Party-ID" / b"remote-party-id";
    ReplyTo = "Reply-To" / b"reply-to", single true;
    RequestDisposition = "Request-Disposition" / b"request-disposition", compact b'd';
    Require = "Require" / b"require";
    RetryAfter = "Retry-After" / b"retry-after", single true;
    RSeq = "RSeq" / b"rseq", single true;
    SessionExpires = "Session-Expires" / b"session-expires", compact b'x', single true;
    Subject = "Subject" / b"subject", compact b's', single true;
    SubscriptionState = "Subscription-State" / b"subscription-state", single true;
    Timestamp = "Timestamp" / b"timestamp", single true;
    Unsupported = "Unsupported" / b"unsupported";
    Warning = "Warning" / b"warning";
}

/// The longest canonical name (`Request-Disposition`, `P-Preferred-Identity`).
pub(crate) const MAX_NAME_LEN: usize = 24;

/// Case-insensitive lookup of the long names without lower-casing a copy: a name becomes three
/// little-endian words of its bytes, zero-padded ([`name_key`]); a multiplicative hash of the first
/// two picks the one known name it can be, and one masked comparison per word decides. The mask
/// sets bit 0x20 only where the known name has a letter, so `(word | mask) == known` accepts
/// exactly the upper- and lower-case forms of the letters and the other bytes as they are.
pub(crate) mod lookup {
    use super::{HeaderName, MAX_NAME_LEN};

    /// Chosen so that no two known names share a slot (checked when the table is built: a
    /// collision fails the build, and a new name needs another odd multiplier).
    const MULTIPLIER: u64 = 0xa918_7ee7_4716_dd59;
    const SLOT_BITS: u32 = 8;
    /// Bit 0x20 in every byte: known names are lower-case letters and `-`, which all have it.
    const FOLD: u64 = 0x2020_2020_2020_2020;

    struct Entry {
        key: [u64; 3],
        letters: [u64; 3],
        len: usize,
    }

    #[inline(always)]
    const fn slot(key: &[u64; 3], len: usize) -> usize {
        let mixed = (key[0] | FOLD) ^ (key[1] | FOLD).rotate_left(31) ^ len as u64;
        (mixed.wrapping_mul(MULTIPLIER) >> (64 - SLOT_BITS)) as usize
    }

    /// Up to eight bytes as a little-endian word, zero-padded.
    #[inline(always)]
    fn partial_word(s: &[u8]) -> u64 {
        let n = s.len();
        let load = |at: usize, width: usize| -> u64 {
            let bytes = s.get(at..at + width).unwrap_or(&[]);
            match *bytes {
                [a, b] => u64::from(u16::from_le_bytes([a, b])),
                [a, b, c, d] => u64::from(u32::from_le_bytes([a, b, c, d])),
                _ => bytes.first_chunk::<8>().map_or(0, |w| u64::from_le_bytes(*w)),
            }
        };
        match n {
            8.. => load(0, 8),
            // Two overlapping loads: the bytes they share land in the same place.
            4..=7 => load(0, 4) | load(n - 4, 4) << (8 * (n - 4)),
            2..=3 => load(0, 2) | load(n - 2, 2) << (8 * (n - 2)),
            _ => s.first().map_or(0, |&b| u64::from(b)),
        }
    }

    /// The name's bytes as three little-endian words, zero-padded (names of at most
    /// [`MAX_NAME_LEN`] bytes; longer names are never known).
    #[inline]
    pub(crate) fn name_key(s: &[u8]) -> [u64; 3] {
        let part = |i: usize| partial_word(s.get(8 * i..s.len().min(8 * i + 8)).unwrap_or(&[]));
        [part(0), part(1), part(2)]
    }

    /// [`name_key`] for the table, where loops are all a `const fn` has.
    pub(crate) const fn const_key(s: &[u8]) -> [u64; 3] {
        let mut key = [0u64; 3];
        let mut i = 0;
        while i < s.len() && i < 24 {
            key[i / 8] |= (s[i] as u64) << (8 * (i % 8));
            i += 1;
        }
        key
    }

    const fn build() -> ([u8; 1 << SLOT_BITS], [Entry; HeaderName::COUNT]) {
        let mut slots = [0u8; 1 << SLOT_BITS];
        let mut entries = [const { Entry { key: [0; 3], letters: [0; 3], len: 0 } }; HeaderName::COUNT];
        let mut i = 0;
        while i < HeaderName::COUNT {
            let name = HeaderName::LOWER[i];
            assert!(name.len() >= 2 && name.len() <= MAX_NAME_LEN);
            let mut mask = [0u8; MAX_NAME_LEN];
            let mut j = 0;
            while j < name.len() {
                assert!(!name[j].is_ascii_uppercase() && name[j] & 0x20 != 0);
                if name[j].is_ascii_lowercase() {
                    mask[j] = 0x20;
                }
                j += 1;
            }
            let key = const_key(name);
            let s = slot(&key, name.len());
            assert!(slots[s] == 0, "two header names share a hash slot: change MULTIPLIER");
            slots[s] = (i + 1) as u8;
            entries[i] = Entry { key, letters: const_key(&mask), len: name.len() };
            i += 1;
        }
        (slots, entries)
    }

    static TABLE: ([u8; 1 << SLOT_BITS], [Entry; HeaderName::COUNT]) = build();

    /// The known name of `len` bytes (2 to [`MAX_NAME_LEN`]) whose [`name_key`] is `key`, in any
    /// case, or `Other`.
    #[inline(always)]
    pub(crate) fn find_key(key: &[u64; 3], len: usize) -> HeaderName {
        let (slots, entries) = &TABLE;
        let index = usize::from(slots[slot(key, len)]).wrapping_sub(1);
        match (entries.get(index), HeaderName::KNOWN.get(index)) {
            (Some(e), Some(&name))
                if e.len == len
                    && key[0] | e.letters[0] == e.key[0]
                    && key[1] | e.letters[1] == e.key[1]
                    && key[2] | e.letters[2] == e.key[2] =>
            {
                name
            }
            _ => HeaderName::Other,
        }
    }

    /// The known long name `raw` spells in any case, or `Other`.
    #[inline]
    pub(super) fn find(raw: &[u8]) -> HeaderName {
        if !(2..=MAX_NAME_LEN).contains(&raw.len()) {
            return HeaderName::Other;
        }
        find_key(&name_key(raw), raw.len())
    }
}

impl HeaderName {
    /// Resolves a raw header name (any case, full or compact form). Surrounding whitespace must
    /// already be trimmed.
    pub fn parse(raw: &[u8]) -> HeaderName {
        match raw.len() {
            0 => HeaderName::Other,
            1 => HeaderName::from_compact(raw[0]),
            _ => lookup::find(raw),
        }
    }

    /// Resolves a compact form (`i`, `m`, `v` …), any case.
    pub fn from_compact(letter: u8) -> HeaderName {
        match letter.to_ascii_lowercase() {
            b'a' => HeaderName::AcceptContact,
            b'b' => HeaderName::ReferredBy,
            b'c' => HeaderName::ContentType,
            b'd' => HeaderName::RequestDisposition,
            b'e' => HeaderName::ContentEncoding,
            b'f' => HeaderName::From,
            b'i' => HeaderName::CallId,
            b'j' => HeaderName::RejectContact,
            b'k' => HeaderName::Supported,
            b'l' => HeaderName::ContentLength,
            b'm' => HeaderName::Contact,
            b'n' => HeaderName::IdentityInfo,
            b'o' => HeaderName::Event,
            b'r' => HeaderName::ReferTo,
            b's' => HeaderName::Subject,
            b't' => HeaderName::To,
            b'u' => HeaderName::AllowEvents,
            b'v' => HeaderName::Via,
            b'x' => HeaderName::SessionExpires,
            b'y' => HeaderName::Identity,
            _ => HeaderName::Other,
        }
    }

    /// For an unknown name, the known name it most likely misspells (`content-lnegth` →
    /// `Content-Length`): at most one edit for names under eight bytes, two for longer ones,
    /// counting a swap of neighbours as one edit.
    pub fn resembles(raw: &[u8]) -> Option<HeaderName> {
        if raw.len() < 4 || raw.len() > 40 {
            return None;
        }
        let mut limit = if raw.len() < 8 { 1 } else { 2 };
        let mut best: Option<HeaderName> = None;
        for &known in HeaderName::KNOWN {
            let canonical = known.canonical().as_bytes();
            // The first name at the smallest distance wins: later ones must be closer.
            if let Some(distance @ 1..) = edit_distance_within(raw, canonical, limit) {
                best = Some(known);
                limit = distance - 1;
                if limit == 0 {
                    break;
                }
            }
        }
        best
    }
}

/// Optimal-string-alignment distance, ASCII case-insensitive, if it is at most `limit`.
///
/// Every unknown header name an attacker sends is compared with every known name, so this must
/// stay cheap: a distance within `limit` only passes through cells at most `limit` off the
/// diagonal, so each row computes that band alone (every cell outside it stands for "over the
/// limit"), and the search stops at a row wholly over the limit. Inputs longer than 47 bytes
/// give `None` (the caller checks for 40).
fn edit_distance_within(a: &[u8], b: &[u8], limit: usize) -> Option<usize> {
    const MAX: usize = 48;
    let (n, m) = (a.len(), b.len());
    if n >= MAX || m >= MAX || n.abs_diff(m) > limit {
        return None;
    }
    let over = limit + 1;
    // Rows i-2, i-1 and i live in rows[(i-2) % 3], rows[(i-1) % 3], rows[i % 3].
    let mut rows = [[over; MAX]; 3];
    for (j, slot) in rows[0].iter_mut().enumerate().take(m.min(limit) + 1) {
        *slot = j;
    }
    for i in 1..=n {
        let (cur, prev, prev2) = (i % 3, (i + 2) % 3, (i + 1) % 3);
        let (lo, hi) = (i.saturating_sub(limit).max(1), (i + limit).min(m));
        // The row last held row i-3: reset the cells next to the band that later rows read.
        rows[cur][lo - 1..=(hi + 1).min(m)].fill(over);
        if i <= limit {
            rows[cur][0] = i;
        }
        let mut row_min = rows[cur][0];
        for j in lo..=hi {
            let cost = usize::from(!a[i - 1].eq_ignore_ascii_case(&b[j - 1]));
            let mut best = (rows[prev][j] + 1).min(rows[cur][j - 1] + 1).min(rows[prev][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1].eq_ignore_ascii_case(&b[j - 2]) && a[i - 2].eq_ignore_ascii_case(&b[j - 1]) {
                best = best.min(rows[prev2][j - 2] + 1);
            }
            let best = best.min(over);
            rows[cur][j] = best;
            row_min = row_min.min(best);
        }
        // A cell is at most one more than the cell diagonally before it, so once a whole row is
        // over the limit every later row is too.
        if row_min > limit {
            return None;
        }
    }
    Some(rows[n % 3][m]).filter(|&d| d <= limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_iana_compact_form_resolves() {
        let expected = [
            (b'a', "Accept-Contact"),
            (b'b', "Referred-By"),
            (b'c', "Content-Type"),
            (b'd', "Request-Disposition"),
            (b'e', "Content-Encoding"),
            (b'f', "From"),
            (b'i', "Call-ID"),
            (b'j', "Reject-Contact"),
            (b'k', "Supported"),
            (b'l', "Content-Length"),
            (b'm', "Contact"),
            (b'n', "Identity-Info"),
            (b'o', "Event"),
            (b'r', "Refer-To"),
            (b's', "Subject"),
            (b't', "To"),
            (b'u', "Allow-Events"),
            (b'v', "Via"),
            (b'x', "Session-Expires"),
            (b'y', "Identity"),
        ];
        for (letter, canonical) in expected {
            let name = HeaderName::parse(&[letter]);
            assert_eq!(name.canonical(), canonical);
            assert_eq!(HeaderName::parse(&[letter.to_ascii_uppercase()]), name);
            assert_eq!(name.compact(), Some(letter));
        }
        assert_eq!(HeaderName::parse(b"q"), HeaderName::Other);
    }

    #[test]
    fn lookup_ignores_case() {
        assert_eq!(HeaderName::parse(b"MaX-fOrWaRdS"), HeaderName::MaxForwards);
        assert_eq!(HeaderName::parse(b"call-id"), HeaderName::CallId);
        assert_eq!(HeaderName::parse(b"www-authenticate"), HeaderName::WwwAuthenticate);
        assert_eq!(HeaderName::parse(b"X-Custom"), HeaderName::Other);
        assert_eq!(HeaderName::COUNT, HeaderName::KNOWN.len());
        assert!(HeaderName::KNOWN.iter().all(|n| n.canonical().len() <= MAX_NAME_LEN));
        for &known in HeaderName::KNOWN {
            assert_eq!(HeaderName::parse(known.canonical().as_bytes()), known);
            assert_eq!(HeaderName::parse(known.canonical().to_lowercase().as_bytes()), known);
        }
    }

    /// The lookup's two ways of making a key agree, and every known name is found in any mix of
    /// cases while a one-byte change (including one that only flips bit 0x20 of `-`) is not.
    #[test]
    fn lookup_keys_and_case_mixes() {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            let len = (next() % 25) as usize;
            let s: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            assert_eq!(lookup::name_key(&s), lookup::const_key(&s), "{s:?}");
        }
        for &known in HeaderName::KNOWN {
            let canonical = known.canonical().as_bytes();
            for _ in 0..50 {
                let mixed: Vec<u8> = canonical
                    .iter()
                    .map(|b| if next() % 2 == 0 { b.to_ascii_uppercase() } else { b.to_ascii_lowercase() })
                    .collect();
                assert_eq!(HeaderName::parse(&mixed), known);
                let mut changed = mixed.clone();
                let at = (next() as usize) % changed.len();
                changed[at] = match next() % 3 {
                    0 => changed[at] ^ 0x20 ^ if changed[at].is_ascii_alphabetic() { 0x01 } else { 0 },
                    1 => b'\r',
                    _ => next() as u8,
                };
                if !changed.eq_ignore_ascii_case(canonical) {
                    assert_ne!(HeaderName::parse(&changed), known, "{:?}", String::from_utf8_lossy(&changed));
                }
            }
            let mut longer = canonical.to_vec();
            longer.push(b'x');
            assert_ne!(HeaderName::parse(&longer), known);
            if canonical.len() > 2 {
                // (`T` is the compact form of `To`.)
                assert_ne!(HeaderName::parse(&canonical[..canonical.len() - 1]), known);
            }
        }
    }

    /// The whole optimal-string-alignment table, as `resembles` computed it before the band.
    fn full_edit_distance(a: &[u8], b: &[u8]) -> usize {
        let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
        for (i, row) in d.iter_mut().enumerate() {
            row[0] = i;
        }
        for (j, cell) in d[0].iter_mut().enumerate() {
            *cell = j;
        }
        for i in 1..=a.len() {
            for j in 1..=b.len() {
                let cost = usize::from(!a[i - 1].eq_ignore_ascii_case(&b[j - 1]));
                let mut best = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
                if i > 1
                    && j > 1
                    && a[i - 1].eq_ignore_ascii_case(&b[j - 2])
                    && a[i - 2].eq_ignore_ascii_case(&b[j - 1])
                {
                    best = best.min(d[i - 2][j - 2] + 1);
                }
                d[i][j] = best;
            }
        }
        d[a.len()][b.len()]
    }

    #[test]
    fn banded_edit_distance_agrees_with_the_full_table() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        // A small alphabet (with case) keeps distances small, so every limit is exercised.
        let alphabet = b"abAB-c";
        let mut word =
            |len: usize| -> Vec<u8> { (0..len).map(|_| alphabet[next() as usize % alphabet.len()]).collect() };
        for round in 0..20_000 {
            let a = word(round % 9);
            let b = word((round / 9) % 11);
            let full = full_edit_distance(&a, &b);
            for limit in 0..4 {
                let expected = Some(full).filter(|&d| d <= limit);
                assert_eq!(edit_distance_within(&a, &b, limit), expected, "{a:?} {b:?} limit {limit}");
            }
        }
        for &known in HeaderName::KNOWN {
            let name = known.canonical().as_bytes();
            for &other in HeaderName::KNOWN {
                let full = full_edit_distance(name, other.canonical().as_bytes());
                assert_eq!(edit_distance_within(name, other.canonical().as_bytes(), 2), Some(full).filter(|&d| d <= 2));
            }
        }
    }

    #[test]
    fn resembles_picks_what_the_full_table_picks() {
        // `resembles` as it was: the full table for every known name, the first closest wins.
        let oracle = |raw: &[u8]| -> Option<HeaderName> {
            if raw.len() < 4 || raw.len() > 40 {
                return None;
            }
            let limit = if raw.len() < 8 { 1 } else { 2 };
            let mut best: Option<(usize, HeaderName)> = None;
            for &known in HeaderName::KNOWN {
                let distance = full_edit_distance(raw, known.canonical().as_bytes());
                if distance > 0 && distance <= limit && best.is_none_or(|(d, _)| distance < d) {
                    best = Some((distance, known));
                }
            }
            best.map(|(_, name)| name)
        };
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as usize
        };
        for &known in HeaderName::KNOWN {
            for _ in 0..25 {
                let mut name = known.canonical().as_bytes().to_vec();
                for _ in 0..1 + next() % 3 {
                    let at = next() % (name.len() + 1);
                    match next() % 4 {
                        0 if at < name.len() => drop(name.remove(at)),
                        1 => name.insert(at, b"-aeiost"[next() % 7]),
                        2 if at + 1 < name.len() => name.swap(at, at + 1),
                        _ if at < name.len() => name[at] = b"-aeiost"[next() % 7],
                        _ => {}
                    }
                }
                assert_eq!(HeaderName::resembles(&name), oracle(&name), "{:?}", String::from_utf8_lossy(&name));
            }
        }
    }

    #[test]
    fn misspellings_resemble_known_names() {
        assert_eq!(HeaderName::resembles(b"content-lnegth"), Some(HeaderName::ContentLength));
        assert_eq!(HeaderName::resembles(b"Usr-Agent"), Some(HeaderName::UserAgent));
        assert_eq!(HeaderName::resembles(b"Contcat"), Some(HeaderName::Contact));
        assert_eq!(HeaderName::resembles(b"X-Serialnumber"), None);
        assert_eq!(HeaderName::resembles(b"NewFangledHeader"), None);
        assert_eq!(HeaderName::resembles(b"Via"), None);
    }
}
