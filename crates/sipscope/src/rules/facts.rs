//! The typed facts a rule matches on, derived once per message (or record) from what the
//! pipeline already has: the parsed message, where it came from ([`Observation`]), what the
//! trackers know about its client ([`Derived`]), and the analysis' pure functions (agent
//! classes, tool fingerprints, dialled numbers), cached by value. Facts nobody asks for are
//! never computed: a message only pays for the facts its rules' conditions reach.

use super::genmap::GenMap;
use crate::analysis::fingerprint::FingerprintBuilder;
use crate::analysis::numbers::Dialled;
use crate::analysis::stages::Stage;
use crate::analysis::tools::{ToolLibrary, Verdict};
use crate::analysis::user_agents::{classify, AgentLibrary, UaClass};
use crate::event::fields::Parsed;
use crate::event::record::{Record, AUTH_ATTEMPT_OUTCOMES};
use crate::event::{Direction, Transport};
use sipscope_sip::Message;
use std::hash::{BuildHasher, Hash, Hasher};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// One message as the pipeline hands it to the rules (the rules do not import the pipeline).
#[derive(Debug, Clone, Copy)]
pub struct Observation<'a> {
    /// Capture or receive time, ns (event time: every window is a function of it).
    pub ts_ns: i64,
    /// The message's ordinal in the pipeline (messages accepted before it).
    pub ordinal: u64,
    /// Where its event went in the pipeline's store ([`crate::act::Evidence::stored`]).
    pub stored: Option<u64>,
    /// How it travelled.
    pub transport: Transport,
    /// Source address and port.
    pub src: (IpAddr, u16),
    /// Destination address and port.
    pub dst: (IpAddr, u16),
    /// Received, sent, or unknown (passive capture).
    pub direction: Direction,
    /// Its node.
    pub node: Option<&'a str>,
    /// The parsed message; none for bytes that do not parse or are blank.
    pub msg: Option<&'a Message<'a>>,
    /// Its Request-URI and To header when the pipeline parsed them already (for the stored
    /// fields); the rules parse what is not there themselves.
    pub parsed: &'a Parsed<'a>,
    /// Empty or CRLF only (a keep-alive).
    pub blank: bool,
}

/// What the rules evaluate: a message, or a record (authentication attempt, registration).
#[derive(Debug, Clone, Copy)]
pub enum Subject<'a> {
    /// A message.
    Message(&'a Observation<'a>),
    /// A record, with the pipeline's ordinal at the time.
    Record(&'a Record, u64),
}

/// Every fact. Names are stable (rule files use them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fact {
    Kind,
    Method,
    Status,
    Direction,
    Transport,
    Node,
    Source,
    Destination,
    SourcePort,
    DestinationPort,
    Credentials,
    AuthOutcome,
    Proven,
    Stage,
    AccountSource,
    Username,
    TargetUser,
    FromUser,
    ToUser,
    RuriUser,
    CallId,
    UserAgent,
    UaClass,
    UaProduct,
    Dialled,
    DialledKind,
    DialledCountry,
    DialledType,
    Anomaly,
    Tool,
}

/// The values a fact takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactType {
    /// Attacker text (compared byte for byte, or by regular expression).
    Text,
    /// One of these names.
    Choice(&'static [&'static str]),
    /// An integer.
    Number,
    /// True or false.
    Bool,
    /// An IP address.
    Address,
    /// A set of names (anomalies): a condition holds when it holds for one of them.
    Names,
}

/// `kind` values.
pub const KINDS: &[&str] = &["request", "response", "invalid", "keepalive", "auth_attempt", "registration"];
/// The bit of a `kind` value in a rule's mask of the kinds it can match.
pub fn kind_bit(kind: &str) -> u8 {
    KINDS.iter().position(|k| *k == kind).map_or(0, |i| 1 << i)
}

const DIRECTIONS: &[&str] = &["in", "out", "unknown"];
const TRANSPORTS: &[&str] = &["udp", "tcp", "tls", "sctp", "ws"];
/// `auth_outcome` values: from answers (`challenged`, `failed`, `accepted`) and from
/// authentication records (the honeypot's and the PBX logs', as stored in
/// `auth_attempts.outcome`: [`AUTH_ATTEMPT_OUTCOMES`], `accepted` among them).
pub const AUTH_OUTCOMES: &[&str] = &auth_outcomes();

/// The outcomes only answers give.
const ANSWER_OUTCOMES: [&str; 2] = ["challenged", "failed"];

/// [`ANSWER_OUTCOMES`], then every record outcome.
const fn auth_outcomes() -> [&'static str; ANSWER_OUTCOMES.len() + AUTH_ATTEMPT_OUTCOMES.len()] {
    let mut all = [""; ANSWER_OUTCOMES.len() + AUTH_ATTEMPT_OUTCOMES.len()];
    let mut i = 0;
    while i < ANSWER_OUTCOMES.len() {
        all[i] = ANSWER_OUTCOMES[i];
        i += 1;
    }
    let mut j = 0;
    while j < AUTH_ATTEMPT_OUTCOMES.len() {
        all[i + j] = AUTH_ATTEMPT_OUTCOMES[j];
        j += 1;
    }
    all
}
const STAGES: &[&str] = &["server_scan", "extension_scan", "registration_hijacking", "toll_fraud"];
const ACCOUNT_SOURCES: &[&str] = &["first", "known", "new"];
const UA_CLASSES: &[&str] =
    &["none", "attack_tool", "softphone", "hardphone", "pbx_server", "sdk", "random_looking", "other"];
const DIALLED_KINDS: &[&str] = &["number", "extension", "service_code", "non_numeric", "invalid"];
const NUMBER_TYPES: &[&str] = &[
    "mobile",
    "fixed_line",
    "fixed_line_or_mobile",
    "toll_free",
    "premium_rate",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
    "unknown",
];

impl Fact {
    /// Every fact, in the order the reference lists them.
    pub const ALL: [Fact; 30] = [
        Fact::Kind,
        Fact::Method,
        Fact::Status,
        Fact::Direction,
        Fact::Transport,
        Fact::Node,
        Fact::Source,
        Fact::Destination,
        Fact::SourcePort,
        Fact::DestinationPort,
        Fact::Credentials,
        Fact::AuthOutcome,
        Fact::Proven,
        Fact::Stage,
        Fact::AccountSource,
        Fact::Username,
        Fact::TargetUser,
        Fact::FromUser,
        Fact::ToUser,
        Fact::RuriUser,
        Fact::CallId,
        Fact::UserAgent,
        Fact::UaClass,
        Fact::UaProduct,
        Fact::Dialled,
        Fact::DialledKind,
        Fact::DialledCountry,
        Fact::DialledType,
        Fact::Anomaly,
        Fact::Tool,
    ];

    /// The name in rule files.
    pub fn name(self) -> &'static str {
        match self {
            Fact::Kind => "kind",
            Fact::Method => "method",
            Fact::Status => "status",
            Fact::Direction => "direction",
            Fact::Transport => "transport",
            Fact::Node => "node",
            Fact::Source => "source",
            Fact::Destination => "destination",
            Fact::SourcePort => "source_port",
            Fact::DestinationPort => "destination_port",
            Fact::Credentials => "credentials",
            Fact::AuthOutcome => "auth_outcome",
            Fact::Proven => "proven",
            Fact::Stage => "stage",
            Fact::AccountSource => "account_source",
            Fact::Username => "username",
            Fact::TargetUser => "target_user",
            Fact::FromUser => "from_user",
            Fact::ToUser => "to_user",
            Fact::RuriUser => "ruri_user",
            Fact::CallId => "call_id",
            Fact::UserAgent => "user_agent",
            Fact::UaClass => "ua_class",
            Fact::UaProduct => "ua_product",
            Fact::Dialled => "dialled",
            Fact::DialledKind => "dialled_kind",
            Fact::DialledCountry => "dialled_country",
            Fact::DialledType => "dialled_type",
            Fact::Anomaly => "anomaly",
            Fact::Tool => "tool",
        }
    }

    /// The fact of a name.
    pub fn parse(name: &str) -> Option<Fact> {
        Fact::ALL.into_iter().find(|f| f.name() == name)
    }

    /// What values it takes.
    pub fn ty(self) -> FactType {
        match self {
            Fact::Kind => FactType::Choice(KINDS),
            Fact::Direction => FactType::Choice(DIRECTIONS),
            Fact::Transport => FactType::Choice(TRANSPORTS),
            Fact::AuthOutcome => FactType::Choice(AUTH_OUTCOMES),
            Fact::Stage => FactType::Choice(STAGES),
            Fact::AccountSource => FactType::Choice(ACCOUNT_SOURCES),
            Fact::UaClass => FactType::Choice(UA_CLASSES),
            Fact::DialledKind => FactType::Choice(DIALLED_KINDS),
            Fact::DialledType => FactType::Choice(NUMBER_TYPES),
            Fact::Status | Fact::SourcePort | Fact::DestinationPort => FactType::Number,
            Fact::Credentials | Fact::Proven => FactType::Bool,
            Fact::Source | Fact::Destination => FactType::Address,
            Fact::Anomaly => FactType::Names,
            _ => FactType::Text,
        }
    }

    /// Relative cost of computing it: a rule's conditions are tested cheapest first, so a
    /// costly fact (a fingerprint, a phone number's metadata, every header checked) is only
    /// computed for messages that passed the cheap tests.
    pub fn cost(self) -> u8 {
        match self {
            Fact::Kind | Fact::Direction | Fact::Transport | Fact::Status | Fact::Method => 0,
            Fact::Source | Fact::Destination | Fact::SourcePort | Fact::DestinationPort | Fact::Node => 0,
            Fact::Credentials | Fact::AuthOutcome | Fact::Proven | Fact::Stage | Fact::AccountSource => 0,
            Fact::UserAgent | Fact::CallId | Fact::FromUser | Fact::ToUser | Fact::RuriUser => 1,
            Fact::Username | Fact::TargetUser | Fact::Dialled => 1,
            Fact::UaClass | Fact::UaProduct => 2,
            Fact::DialledKind | Fact::DialledCountry | Fact::DialledType => 3,
            Fact::Anomaly => 4,
            Fact::Tool => 5,
        }
    }
}

/// The value of a fact for one subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value<'v> {
    /// The subject has no such thing (a response has no method of its own, a request no status).
    Absent,
    /// Text (attacker bytes, or a choice's name).
    Text(&'v [u8]),
    /// A number.
    Number(i64),
    /// A truth value.
    Bool(bool),
    /// An address.
    Address(IpAddr),
    /// The anomalies of a message (their names).
    Anomalies(&'v [sipscope_sip::Anomaly]),
}

/// What the trackers know about the subject (computed for every subject, before any rule).
#[derive(Debug, Clone, Copy)]
pub struct Derived {
    /// The party that sent the request: the source of a request, the destination of an answer.
    pub client: (IpAddr, u16),
    /// The other party (the server, the sensor's side).
    pub server: (IpAddr, u16),
    /// `kind`.
    pub kind: &'static str,
    /// Its bit ([`kind_bit`]).
    pub kind_bit: u8,
    /// The request carried digest credentials (for an answer: its request did, when paired).
    pub credentials: bool,
    /// The message is a REGISTER or an answer to one.
    pub register: bool,
    /// `auth_outcome`.
    pub auth_outcome: Option<&'static str>,
    /// The client is proven.
    pub proven: bool,
    /// The furthest stage the client reached so far.
    pub stage: Option<Stage>,
    /// `account_source` (accepted registrations only).
    pub account_source: Option<&'static str>,
}

/// Values computed by costly functions, remembered by value across messages (bounded; keyed
/// by a keyed 64-bit hash of the value).
pub struct Caches {
    pub(super) hasher: ahash::RandomState,
    pub(super) agents: AgentLibrary,
    pub(super) tools: ToolLibrary,
    pub(super) ua: GenMap<u64, (UaClass, Option<Arc<str>>)>,
    pub(super) tool: GenMap<u64, Option<Arc<str>>>,
}

impl Caches {
    /// Caches of at most `limit` entries each, with the built-in libraries.
    pub fn new(limit: usize) -> Caches {
        Caches {
            hasher: ahash::RandomState::new(),
            agents: AgentLibrary::builtin(),
            tools: ToolLibrary::builtin(),
            ua: GenMap::new(limit),
            tool: GenMap::new(limit),
        }
    }
}

/// The facts of one subject, computed when first asked for.
pub struct Facts<'s, 'a> {
    subject: Subject<'a>,
    derived: &'s Derived,
    caches: &'s mut Caches,
    ua: Option<(UaClass, Option<Arc<str>>)>,
    tool: Option<Option<Arc<str>>>,
    dialled: Option<Option<Arc<Dialled>>>,
    /// The digest username, parsed when first asked for.
    auth_user: Option<Option<&'a [u8]>>,
    /// Request-URI user and To user, parsed when first asked for.
    ruri_user: std::cell::OnceCell<Option<&'a [u8]>>,
    to_user: std::cell::OnceCell<Option<&'a [u8]>>,
    /// `dialled_kind`, found when first asked for (three fraud rules ask for each INVITE).
    dialled_kind: std::cell::OnceCell<Option<&'static str>>,
}

impl<'s, 'a> Facts<'s, 'a> {
    /// The facts of `subject`.
    pub fn new(subject: Subject<'a>, derived: &'s Derived, caches: &'s mut Caches) -> Facts<'s, 'a> {
        Facts {
            subject,
            derived,
            caches,
            ua: None,
            tool: None,
            dialled: None,
            auth_user: None,
            ruri_user: std::cell::OnceCell::new(),
            to_user: std::cell::OnceCell::new(),
            dialled_kind: std::cell::OnceCell::new(),
        }
    }

    /// The To user, when the caller parsed it already (the trackers do for answers).
    pub fn with_to_user(self, to_user: Option<Option<&'a [u8]>>) -> Facts<'s, 'a> {
        if let Some(user) = to_user {
            let _ = self.to_user.set(user);
        }
        self
    }

    /// What the trackers said.
    pub fn derived(&self) -> &Derived {
        self.derived
    }

    /// The subject.
    pub fn subject(&self) -> Subject<'a> {
        self.subject
    }

    /// Computes what `fact` needs (its cached values), so that [`Facts::value`] can borrow.
    pub fn prepare(&mut self, fact: Fact) {
        match fact {
            Fact::UaClass | Fact::UaProduct if self.ua.is_none() => self.ua = Some(self.agent_class()),
            Fact::Tool if self.tool.is_none() => self.tool = Some(self.single_message_tool()),
            Fact::DialledCountry | Fact::DialledType if self.dialled.is_none() => {
                self.dialled = Some(self.dialled_class());
            }
            Fact::Username if self.auth_user.is_none() => {
                let parsed = match self.subject {
                    Subject::Message(o) if self.derived.credentials && o.msg.is_some_and(|m| m.method().is_some()) => {
                        o.msg.and_then(|m| m.credentials()).and_then(|c| c.username)
                    }
                    _ => None,
                };
                self.auth_user = Some(parsed);
            }
            _ => {}
        }
    }

    /// The value of `fact` (call [`Facts::prepare`] first for the cached facts).
    pub fn value(&self, fact: Fact) -> Value<'_> {
        let d = self.derived;
        let name = |v: Option<&'static str>| v.map_or(Value::Absent, |s| Value::Text(s.as_bytes()));
        match fact {
            Fact::Kind => Value::Text(d.kind.as_bytes()),
            Fact::Source => Value::Address(d.client.0),
            Fact::Destination => Value::Address(d.server.0),
            Fact::SourcePort => Value::Number(d.client.1.into()),
            Fact::DestinationPort => Value::Number(d.server.1.into()),
            Fact::Credentials => Value::Bool(d.credentials),
            Fact::AuthOutcome => name(d.auth_outcome),
            Fact::Proven => Value::Bool(d.proven),
            Fact::Stage => name(d.stage.map(Stage::as_str)),
            Fact::AccountSource => name(d.account_source),
            Fact::UaClass => name(self.ua.as_ref().map(|u| u.0.as_str())),
            Fact::UaProduct => shared(self.ua.as_ref().and_then(|u| u.1.as_ref())),
            Fact::Tool => shared(self.tool.as_ref().and_then(Option::as_ref)),
            Fact::DialledKind => name(*self.dialled_kind.get_or_init(|| match self.value(Fact::Dialled) {
                Value::Text(t) => Some(crate::analysis::numbers::kind_of(&String::from_utf8_lossy(t))),
                _ => None,
            })),
            Fact::DialledType => match self.dialled_ref() {
                Some(Dialled::Number(n)) => name(Some(n.number_type.as_str())),
                _ => Value::Absent,
            },
            Fact::DialledCountry => match self.dialled_ref() {
                Some(Dialled::Number(n)) => n.country.as_deref().map_or(Value::Absent, |c| Value::Text(c.as_bytes())),
                _ => Value::Absent,
            },
            _ => match self.subject {
                Subject::Message(o) => self.message_fact(o, fact).unwrap_or(Value::Absent),
                Subject::Record(r, _) => record_fact(r, fact),
            },
        }
    }

    fn dialled_ref(&self) -> Option<&Dialled> {
        self.dialled.as_ref().and_then(|d| d.as_deref())
    }

    /// The user agent (Server of an answer), raw.
    fn user_agent(&self) -> Option<&[u8]> {
        match self.subject {
            Subject::Message(o) => o.msg.and_then(agent),
            Subject::Record(r, _) => record_context(r).and_then(|c| c.user_agent.as_deref()).map(str::as_bytes),
        }
    }

    fn agent_class(&mut self) -> (UaClass, Option<Arc<str>>) {
        let Some(ua) = self.user_agent() else { return (UaClass::None, None) };
        let key = self.caches.hasher.hash_one(ua);
        if let Some(hit) = self.caches.ua.get(&key) {
            return hit.clone();
        }
        let m = classify(Some(&String::from_utf8_lossy(ua)), &self.caches.agents);
        let value = (m.class, m.product.map(Arc::from));
        self.caches.ua.insert(key, value.clone());
        value
    }

    /// The tool a single request resembles exactly (the analysis' fingerprint library, on
    /// one message), remembered by method, header names in order and user agent.
    fn single_message_tool(&mut self) -> Option<Arc<str>> {
        let Subject::Message(o) = self.subject else { return None };
        let msg = o.msg?;
        let mut shape = self.caches.hasher.build_hasher();
        msg.method()?.hash(&mut shape);
        for h in msg.headers() {
            h.name.hash(&mut shape);
        }
        msg.user_agent().hash(&mut shape);
        let key = shape.finish();
        if let Some(hit) = self.caches.tool.get(&key) {
            return hit.clone();
        }
        let mut builder = FingerprintBuilder::new();
        builder.add(msg, SocketAddr::from(o.src), SocketAddr::from(o.dst));
        let found = self.caches.tools.match_fingerprint(&builder.into_fingerprint());
        let tool = (found.verdict == Verdict::Exact).then(|| Arc::from(found.tool.as_str()));
        self.caches.tool.insert(key, tool.clone());
        tool
    }

    fn dialled_class(&mut self) -> Option<Arc<Dialled>> {
        let Value::Text(t) = self.value(Fact::Dialled) else { return None };
        Some(super::trackers::dialled(&String::from_utf8_lossy(t)))
    }
}

fn shared(v: Option<&Arc<str>>) -> Value<'_> {
    v.map_or(Value::Absent, |s| Value::Text(s.as_bytes()))
}

/// The agent of a message: User-Agent of a request, Server (or User-Agent) of an answer.
pub fn agent<'m>(msg: &Message<'m>) -> Option<&'m [u8]> {
    if msg.status().is_some() {
        msg.server().or_else(|| msg.user_agent())
    } else {
        msg.user_agent()
    }
}

impl<'a> Facts<'_, 'a> {
    fn message_fact(&self, o: &'a Observation<'a>, fact: Fact) -> Option<Value<'a>> {
        let choice = |s: &'static str| Some(Value::Text(s.as_bytes()));
        match fact {
            Fact::Direction => return choice(o.direction.as_str()),
            Fact::Transport => return choice(o.transport.as_str()),
            Fact::Node => return o.node.map(|n| Value::Text(n.as_bytes())),
            _ => {}
        }
        let msg = o.msg?;
        let d = self.derived;
        let text = |v: Option<&'a [u8]>| v.map(Value::Text);
        let request = d.kind_bit == 1;
        let to_user = || *self.to_user.get_or_init(|| o.parsed.to(msg).and_then(|t| t.user()));
        let ruri_user = || *self.ruri_user.get_or_init(|| o.parsed.request_uri(msg).and_then(|u| u.user));
        match fact {
            Fact::Method => text(msg.method().or_else(|| msg.cseq().map(|c| c.method))),
            Fact::Status => msg.status().map(|s| Value::Number(s.into())),
            Fact::UserAgent => text(agent(msg)),
            Fact::CallId => text(msg.call_id()),
            Fact::FromUser => text(msg.from().and_then(|f| f.user())),
            Fact::ToUser => text(to_user()),
            Fact::RuriUser => text(ruri_user()),
            Fact::Username => text(self.auth_user.flatten().or_else(|| {
                if d.register {
                    to_user()
                } else {
                    msg.from().and_then(|f| f.user())
                }
            })),
            Fact::TargetUser => text(if d.register || !request { to_user() } else { ruri_user() }),
            Fact::Dialled => text(if msg.method() == Some(b"INVITE") { ruri_user() } else { None }),
            Fact::Anomaly => Some(Value::Anomalies(msg.anomalies())),
            _ => None,
        }
    }
}

fn record_context(r: &Record) -> Option<&crate::event::record::RecordContext> {
    match r {
        Record::AuthAttempt(a) => Some(&a.ctx),
        Record::Registration(g) => Some(&g.ctx),
        Record::Recovered(_) => None,
    }
}

fn text(v: Option<&str>) -> Value<'_> {
    v.map_or(Value::Absent, |s| Value::Text(s.as_bytes()))
}

fn record_fact(r: &Record, fact: Fact) -> Value<'_> {
    let Some(ctx) = record_context(r) else { return Value::Absent };
    match (fact, r) {
        (Fact::Transport, _) => Value::Text(ctx.transport.as_str().as_bytes()),
        (Fact::Direction, _) => Value::Text(b"in"),
        (Fact::Node, _) => text(ctx.node.as_deref()),
        (Fact::CallId, _) => text(ctx.call_id.as_deref()),
        (Fact::UserAgent, _) => text(ctx.user_agent.as_deref()),
        (Fact::Method, Record::AuthAttempt(a)) => text(Some(&a.method)),
        (Fact::Method, Record::Registration(_)) => Value::Text(b"REGISTER"),
        (Fact::Username | Fact::TargetUser | Fact::ToUser, Record::AuthAttempt(a)) => text(Some(&a.username)),
        (Fact::Username | Fact::TargetUser | Fact::ToUser, Record::Registration(g)) => text(Some(&g.username)),
        _ => Value::Absent,
    }
}
