//! Registrations in force: the bindings an attacker created with a cracked password, the
//! evidence of a hijacked account. Kept the way the imitated PBX keeps them, so that an
//! attacker sees the same registrar and cannot grow our state or our answers: at most
//! `max_contacts` per extension (Asterisk PJSIP's AOR setting; chan_sip keeps one), the
//! bindings soonest to expire replaced or the REGISTER refused when a new one would not fit
//! (`remove_existing`), and a bounded total. Only extensions that authenticated have bindings,
//! so the users are the configuration's, never names an attacker chose.

use super::state::Binding;
use std::collections::HashMap;

/// What the profile says about bindings per extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContactPolicy {
    /// Bindings one extension holds at most.
    pub max_contacts: usize,
    /// Past `max_contacts`, replace the bindings soonest to expire (else refuse).
    pub remove_existing: bool,
}

/// A REGISTER the registrar refused: it would exceed `max_contacts` (or the table is full).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManyContacts;

#[derive(Debug, Clone)]
struct Held {
    contact: String,
    until_ns: i64,
}

/// Registrations in force, by extension.
pub struct Registrar {
    by_user: HashMap<String, Vec<Held>>,
    total: usize,
    cap: usize,
}

impl Registrar {
    /// At most `cap` bindings in all.
    pub fn new(cap: usize) -> Registrar {
        Registrar { by_user: HashMap::new(), total: 0, cap: cap.max(1) }
    }

    /// Applies the Contacts of one successful REGISTER of `user` at `now_ns`, all or nothing:
    /// expires 0 removes a binding, anything else adds or refreshes one. Returns the bindings
    /// to record: those that changed, and removals of Contacts that were not bound (which
    /// change nothing; at most `max_contacts` of them), or
    /// [`TooManyContacts`] when the request adds more than `max_contacts`, or when the result
    /// would exceed it and `remove_existing` is off (or the request itself refreshes and adds
    /// more than it allows).
    pub fn register(
        &mut self,
        user: &str,
        request: &[Binding],
        policy: ContactPolicy,
        now_ns: i64,
    ) -> Result<Vec<Binding>, TooManyContacts> {
        let held = self.by_user.get(user).map(Vec::as_slice).unwrap_or_default();
        let before = held.len();
        let mut next: Vec<Held> = held.iter().filter(|h| h.until_ns > now_ns).cloned().collect();
        let mut touched: Vec<String> = Vec::new();
        let mut changed = Vec::new();
        let (mut added, mut forgiven) = (0usize, 0usize);
        for b in request {
            let at = next.iter().position(|h| h.contact == b.contact);
            match (at, b.expires) {
                // Nothing to remove; recorded all the same (nmap's sip-brute tests passwords
                // with `expires=0`: its trace), but never more than `max_contacts` a request.
                (None, 0) => {
                    if forgiven < policy.max_contacts.max(1) {
                        forgiven += 1;
                        changed.push(b.clone());
                    }
                    continue;
                }
                (Some(i), 0) => {
                    next.remove(i);
                    touched.retain(|c| *c != b.contact);
                }
                (Some(i), secs) => next[i] = held_for(b, secs, now_ns),
                (None, secs) => {
                    added += 1;
                    next.push(held_for(b, secs, now_ns));
                }
            }
            if b.expires > 0 && !touched.contains(&b.contact) {
                touched.push(b.contact.clone());
            }
            changed.push(b.clone());
        }
        if added > policy.max_contacts || (!policy.remove_existing && next.len() > policy.max_contacts) {
            return Err(TooManyContacts);
        }
        if next.len() > policy.max_contacts {
            // Replace the bindings this request did not name, soonest to expire first.
            let mut others: Vec<(i64, String)> = next
                .iter()
                .filter(|h| !touched.contains(&h.contact))
                .map(|h| (h.until_ns, h.contact.clone()))
                .collect();
            others.sort();
            let excess = next.len() - policy.max_contacts;
            if others.len() < excess {
                return Err(TooManyContacts);
            }
            let gone: Vec<String> = others.into_iter().take(excess).map(|(_, c)| c).collect();
            next.retain(|h| !gone.contains(&h.contact));
        }
        let total = self.total - before + next.len();
        if total > self.cap {
            return Err(TooManyContacts);
        }
        self.total = total;
        if next.is_empty() {
            self.by_user.remove(user);
        } else {
            self.by_user.insert(user.to_owned(), next);
        }
        Ok(changed)
    }

    /// Removes every binding of `user` (`Contact: *` with expires 0).
    pub fn remove_all(&mut self, user: &str) {
        if let Some(held) = self.by_user.remove(user) {
            self.total -= held.len();
        }
    }

    /// Bindings of `user` still in force at `now_ns`, with seconds left, by Contact.
    pub fn active(&self, user: &str, now_ns: i64) -> Vec<(String, u64)> {
        let mut out: Vec<(String, u64)> =
            self.in_force(user, now_ns).map(|h| (h.contact.clone(), left(h, now_ns))).collect();
        out.sort();
        out
    }

    /// At most `max` bindings of `user` in force at `now_ns`, for a 200: those named in
    /// `first` (the request's own Contacts, in its order), then the others, latest to expire
    /// first.
    pub fn listed(&self, user: &str, first: &[String], max: usize, now_ns: i64) -> Vec<(String, u64)> {
        let mut held: Vec<&Held> = self.in_force(user, now_ns).collect();
        held.sort_by_key(|h| {
            let rank = first.iter().position(|c| *c == h.contact).unwrap_or(usize::MAX);
            (rank, std::cmp::Reverse(h.until_ns))
        });
        held.into_iter().take(max).map(|h| (h.contact.clone(), left(h, now_ns))).collect()
    }

    /// Bindings held in all (expired ones until their extension registers again).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.total
    }

    fn in_force(&self, user: &str, now_ns: i64) -> impl Iterator<Item = &Held> {
        self.by_user.get(user).into_iter().flatten().filter(move |h| h.until_ns > now_ns)
    }
}

fn held_for(b: &Binding, secs: u64, now_ns: i64) -> Held {
    let secs = i64::try_from(secs).unwrap_or(i64::MAX);
    Held { contact: b.contact.clone(), until_ns: now_ns.saturating_add(secs.saturating_mul(1_000_000_000)) }
}

fn left(h: &Held, now_ns: i64) -> u64 {
    u64::try_from(h.until_ns.saturating_sub(now_ns) / 1_000_000_000).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    fn b(contact: &str, expires: u64) -> Binding {
        Binding { user: "100".into(), contact: contact.into(), expires, source: "192.0.2.1:5060".parse().unwrap() }
    }

    const MANY: ContactPolicy = ContactPolicy { max_contacts: 10, remove_existing: false };

    #[test]
    fn registrations_expire_refresh_and_unregister() {
        let mut r = Registrar::new(10);
        r.register("100", &[b("sip:100@192.0.2.1", 60)], MANY, 0).unwrap();
        r.register("100", &[b("sip:100@192.0.2.2", 120)], MANY, 0).unwrap();
        assert_eq!(r.active("100", 30 * S).len(), 2);
        assert_eq!(r.active("100", 61 * S), vec![("sip:100@192.0.2.2".into(), 59)]);
        r.register("100", &[b("sip:100@192.0.2.2", 0)], MANY, 62 * S).unwrap();
        assert!(r.active("100", 62 * S).is_empty());
        assert_eq!(r.len(), 0, "the expired one went with the change");
        r.register("100", &[b("sip:100@192.0.2.3", 60)], MANY, 0).unwrap();
        r.remove_all("100");
        assert!(r.active("100", 0).is_empty());
        assert_eq!(r.len(), 0);
    }

    #[test]
    fn the_total_is_bounded_whatever_the_profile_allows() {
        let mut r = Registrar::new(3);
        for i in 0..3 {
            r.register(&format!("u{i}"), &[b("sip:a@b", 60)], MANY, 0).unwrap();
        }
        assert_eq!(r.register("u9", &[b("sip:a@b", 60)], MANY, 0), Err(TooManyContacts));
        assert_eq!(r.len(), 3);
        // Refreshing what is held is always possible.
        assert!(r.register("u0", &[b("sip:a@b", 90)], MANY, 0).is_ok());
    }

    #[test]
    fn a_refused_register_changes_nothing() {
        let one = ContactPolicy { max_contacts: 1, remove_existing: true };
        let mut r = Registrar::new(10);
        r.register("100", &[b("sip:a@b", 60)], one, 0).unwrap();
        assert_eq!(r.register("100", &[b("sip:c@d", 60), b("sip:e@f", 60)], one, 0), Err(TooManyContacts));
        // Refreshing the one held while adding another cannot fit either.
        assert_eq!(r.register("100", &[b("sip:a@b", 60), b("sip:e@f", 60)], one, 0), Err(TooManyContacts));
        assert_eq!(r.active("100", 0), vec![("sip:a@b".into(), 60)]);
    }
}
