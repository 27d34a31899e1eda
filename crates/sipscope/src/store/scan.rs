//! Whole tables read once, as plain values, for the in-memory report index
//! (`store/indexed/`): the rows the costly report questions step through, handed over in one
//! pass per table and one snapshot of the store, so that the index answers those questions
//! without asking the backend to step through them again at every build. Values come as the
//! backend holds them (a text is its bytes, never replaced), so the index can tell a row it
//! represents exactly from one it must leave to the backend.

/// A table the index reads, with the columns it reads, in the order [`Cell`]s come in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IndexTable {
    /// `alerts`: id, rule_id, src_ip, proven, first_ns, last_ns, count, name, severity,
    /// actions, node, group_key.
    Alerts,
    /// `flows`: src_ip, first_ns, last_ns, packets, destinations, fingerprint, tool, variant,
    /// tool_verdict, strategy, packets_per_s.
    Flows,
    /// `stages`: src_ip, node, stage, first_ns, count.
    Stages,
    /// `numbers`: number, last_ns, attempts, invites, country, country_inferred, number_type,
    /// variants, sources, variant_samples, run_id.
    Numbers,
    /// `rollup_sources`: hour, node, src_ip, messages, first_ns, last_ns.
    RollupSources,
    /// `rollup_agents`: hour, node, user_agent, src_ip, messages.
    RollupAgents,
    /// `rollup_users`: hour, node, ruri_user.
    RollupUsers,
    /// `rollup_countries`: hour, node, src_ip, number_country, invites.
    RollupCountries,
    /// `source_days`: src_ip, day.
    SourceDays,
}

impl IndexTable {
    /// Every table, in the order a load reads them.
    pub const ALL: [IndexTable; 9] = [
        IndexTable::Alerts,
        IndexTable::Flows,
        IndexTable::Stages,
        IndexTable::Numbers,
        IndexTable::RollupSources,
        IndexTable::RollupAgents,
        IndexTable::RollupUsers,
        IndexTable::RollupCountries,
        IndexTable::SourceDays,
    ];
}

impl IndexTable {
    /// The statement that reads the table's columns, in the order documented on each variant:
    /// plain SQL that SQLite and PostgreSQL read alike (constant: nothing from outside).
    pub fn select_sql(self) -> &'static str {
        match self {
            IndexTable::Alerts => {
                "SELECT id, rule_id, src_ip, proven, first_ns, last_ns, count, name, severity, actions, node, group_key
                 FROM alerts"
            }
            IndexTable::Flows => {
                "SELECT src_ip, first_ns, last_ns, packets, destinations, fingerprint, tool, variant, tool_verdict,
                        strategy, packets_per_s FROM flows"
            }
            IndexTable::Stages => "SELECT src_ip, node, stage, first_ns, count FROM stages",
            IndexTable::Numbers => {
                "SELECT number, last_ns, attempts, invites, country, country_inferred, number_type, variants, sources,
                        variant_samples, run_id FROM numbers"
            }
            IndexTable::RollupSources => "SELECT hour, node, src_ip, messages, first_ns, last_ns FROM rollup_sources",
            IndexTable::RollupAgents => "SELECT hour, node, user_agent, src_ip, messages FROM rollup_agents",
            IndexTable::RollupUsers => "SELECT hour, node, ruri_user FROM rollup_users",
            IndexTable::RollupCountries => "SELECT hour, node, src_ip, number_country, invites FROM rollup_countries",
            IndexTable::SourceDays => "SELECT src_ip, day FROM source_days",
        }
    }
}

/// The most columns a table's statement reads ([`IndexTable::select_sql`]).
pub const MAX_COLUMNS: usize = 12;

/// One value of a row, as the backend holds it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell<'a> {
    /// NULL.
    Null,
    /// An integer.
    Integer(i64),
    /// A floating-point number.
    Real(f64),
    /// A text, as its bytes (not necessarily UTF-8).
    Text(&'a [u8]),
    /// Anything else (a blob).
    Other,
}

/// What a scan visitor says after a row: go on, or stop (the index grew past its limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scan {
    /// The next row, please.
    More,
    /// No more rows: the load is given up.
    Stop,
}
