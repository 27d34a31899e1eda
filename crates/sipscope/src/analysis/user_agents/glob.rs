//! The patterns of agent files: whole-string globs where `*` is any run of characters (also
//! none) and `?` exactly one character. No character classes, no escapes: agent strings almost
//! never contain `*` or `?`, and where they do the wildcard matches them too. Regular
//! expressions were left out on purpose: a file from a user must not be able to make matching
//! slow or need a regex engine.

/// One compiled pattern.
#[derive(Debug, Clone)]
pub(super) struct Glob {
    toks: Vec<Tok>,
    case_sensitive: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    /// Already lower-cased (ASCII) when the glob ignores case.
    Lit(char),
    One,
    Star,
}

impl Glob {
    pub(super) fn new(pattern: &str, case_sensitive: bool) -> Glob {
        let mut toks: Vec<Tok> = Vec::with_capacity(pattern.len());
        for c in pattern.chars() {
            let t = match c {
                '*' => Tok::Star,
                '?' => Tok::One,
                c if case_sensitive => Tok::Lit(c),
                c => Tok::Lit(c.to_ascii_lowercase()),
            };
            // `**` means the same as `*`; one star keeps backtracking linear.
            if !(t == Tok::Star && toks.last() == Some(&Tok::Star)) {
                toks.push(t);
            }
        }
        Glob { toks, case_sensitive }
    }

    /// How many characters the pattern fixes; 0 means it matches (nearly) anything.
    pub(super) fn literals(&self) -> usize {
        self.toks.iter().filter(|t| matches!(t, Tok::Lit(_))).count()
    }

    /// Whether the whole of `text` matches. Greedy with a single backtrack point (the last `*`),
    /// which is exact for globs and takes at most len(pattern) × len(text) steps.
    pub(super) fn matches(&self, text: &str) -> bool {
        let (mut p, mut t) = (0usize, 0usize);
        let mut star: Option<(usize, usize)> = None;
        loop {
            let c = text[t..].chars().next();
            match (self.toks.get(p), c) {
                (Some(Tok::Star), _) => {
                    star = Some((p + 1, t));
                    p += 1;
                    continue;
                }
                (Some(Tok::One), Some(c)) => {
                    p += 1;
                    t += c.len_utf8();
                    continue;
                }
                (Some(Tok::Lit(l)), Some(c)) if self.same(*l, c) => {
                    p += 1;
                    t += c.len_utf8();
                    continue;
                }
                (None, None) => return true,
                _ => {}
            }
            // Mismatch: let the last star swallow one more character and retry after it.
            let Some((sp, st)) = star else { return false };
            let Some(c) = text[st..].chars().next() else { return false };
            star = Some((sp, st + c.len_utf8()));
            p = sp;
            t = st + c.len_utf8();
        }
    }

    fn same(&self, lit: char, c: char) -> bool {
        if self.case_sensitive {
            lit == c
        } else {
            lit == c.to_ascii_lowercase()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Glob;

    fn m(p: &str, t: &str) -> bool {
        Glob::new(p, false).matches(t)
    }

    #[test]
    fn whole_string_prefix_substring_and_one() {
        assert!(m("friendly-scanner", "friendly-scanner"));
        assert!(!m("friendly-scanner", "friendly-scanner2"), "no pattern is implicitly a prefix");
        assert!(m("sipsak*", "sipsak 0.9.8.1"));
        assert!(m("*belle-sip*", "Linphone/3.12 (belle-sip/1.6.3)"));
        assert!(m("Z ?.*", "Z 5.6.1 rv2.10.19.8"));
        assert!(!m("Z ?.*", "Z 15.6"));
        assert!(m("a*b*c", "a-x-b-y-b-c"));
        assert!(!m("a*b*c", "a-x-b-y-b-c-d"));
        assert!(m("*", ""));
        assert!(m("a**", "abc"));
        assert!(m("?é*", "xé…"), "? is one character, not one byte");
    }

    #[test]
    fn case_rules() {
        assert!(m("FREESWITCH*", "freeswitch-mod_sofia/1.10"));
        assert!(m("grandstream*", "GRANDSTREAM GXP2170"));
        assert!(!Glob::new("VOIP", true).matches("VoIP"));
        assert!(Glob::new("VOIP", true).matches("VOIP"));
        // Only ASCII letters fold: non-ASCII must be written as sent.
        assert!(!m("ÄRGER", "ärger"));
    }

    #[test]
    fn pathological_patterns_stay_fast() {
        let text = "a".repeat(4000);
        assert!(!m("*a*a*a*a*a*a*a*b", &text));
        assert_eq!(Glob::new("*?*", false).literals(), 0);
    }
}
