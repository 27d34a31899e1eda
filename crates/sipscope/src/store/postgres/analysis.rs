//! Reads of the analysis tables (stages, numbers, user agents, flows, runs) and of the
//! honeypot's `auth_attempts`; see the SQLite reader's `analysis.rs`, `flows.rs` and `runs.rs`.
//! Distinct counts of text say `COLLATE "C"` (the same groups, compared as bytes: see
//! `traffic.rs`).

use super::clause::{Clause, Value};
use super::{count, get, n, rows, Result};
use crate::analysis::stages::Stage;
use crate::store::rows::*;
use crate::store::Filter;
use postgres::Client;
use std::net::IpAddr;

pub(super) fn coverage(client: &mut Client) -> Result<AnalysisCoverage> {
    // Kept by the writers (`sinks/postgres/counts.rs`), not counted: a count over every
    // partition costs seconds on a large store.
    let events: i64 = get(&client.query_one("SELECT coalesce(sum(events), 0)::bigint FROM event_counts", &[])?, 0)?;
    let analysed = client
        .query_one("SELECT coalesce(sum(covered), 0)::bigint FROM analysis_runs WHERE finished_ns IS NOT NULL", &[])?;
    let mut c = AnalysisCoverage { events, analysed: get(&analysed, 0)?, ..AnalysisCoverage::default() };
    let unfinished = client.query("SELECT id, owner, after_event FROM analysis_runs WHERE finished_ns IS NULL", &[])?;
    for run in unfinished {
        let (id, owner, after_event): (i64, Option<String>, i64) = (get(&run, 0)?, get(&run, 1)?, get(&run, 2)?);
        let gone = owner.as_deref().is_none_or(|o| crate::owner::is_running(o) == Some(false));
        if gone {
            c.interrupted_runs += 1;
            let r =
                client.query_one("SELECT count(*) FROM events WHERE id > $1 AND run_id = $2", &[&after_event, &id])?;
            c.interrupted_events += get::<i64>(&r, 0)?;
        } else {
            c.running_runs += 1;
        }
    }
    Ok(c)
}

pub(super) fn agent_classes(client: &mut Client) -> Result<Vec<AgentClass>> {
    let sql = "SELECT class, sum(messages)::bigint AS m, count(DISTINCT coalesce(user_agent, '') COLLATE \"C\") FROM user_agents
               GROUP BY class ORDER BY m DESC, class COLLATE \"C\"";
    rows(client, sql, &Clause::default(), |r| {
        Ok(AgentClass { class: get(r, 0)?, messages: n(r, 1)?, agents: get(r, 2)? })
    })
}

pub(super) fn unified_number_count(client: &mut Client, f: &Filter) -> Result<i64> {
    let sql = "SELECT count(*) FROM (SELECT number COLLATE \"C\" FROM numbers {where} GROUP BY 1) u";
    count(client, sql, &Clause::new(f, "last_ns", None, &[], vec![]))
}

pub(super) fn top_numbers(client: &mut Client, f: &Filter, limit: u32) -> Result<Vec<NumberAttempts>> {
    numbers_where(client, |more| Clause::new(f, "last_ns", None, more, vec![]), limit)
}

/// One unified number across the runs, as [`top_numbers`] counts it.
pub(super) fn number(client: &mut Client, f: &Filter, number: &str) -> Result<Option<NumberAttempts>> {
    let clause = |more: &[&str]| {
        let conditions: Vec<&str> = ["number = ?"].into_iter().chain(more.iter().copied()).collect();
        Clause::new(f, "last_ns", None, &conditions, vec![Box::new(number.to_owned()) as Value])
    };
    Ok(numbers_where(client, clause, 1)?.into_iter().next())
}

/// The `limit` numbers with the most attempts summed over the analysis runs, among the rows
/// `clause` selects (given more conditions to add). The ranking is a hashed GROUP BY of the
/// sums alone; only the numbers it keeps are then read in full (their countries, types and
/// samples in run order, an ordered aggregate that forces a sort of every group): 38 ms
/// instead of 83 over the 50,000 numbers of a 10 M-event store.
fn numbers_where(client: &mut Client, clause: impl Fn(&[&str]) -> Clause, limit: u32) -> Result<Vec<NumberAttempts>> {
    let top = clause(&[]).then(i64::from(limit));
    let kept = clause(&["number IN (SELECT nb FROM top)"]);
    let sql = "WITH top AS (SELECT number COLLATE \"C\" AS nb FROM numbers {top} GROUP BY nb
                            ORDER BY sum(attempts) DESC, nb LIMIT ?)
               SELECT number COLLATE \"C\" AS nb, max(country COLLATE \"C\"), bool_or(country_inferred),
                      max(number_type COLLATE \"C\"), sum(attempts)::bigint AS a, sum(invites)::bigint, max(variants),
                      max(sources), string_agg(variant_samples, E'\\n' ORDER BY run_id)
               FROM numbers {where} GROUP BY nb ORDER BY a DESC, nb"
        .replace("{top}", &top.sql);
    // The statement's `?`s in order: the ranking's conditions and limit, then the full read's.
    let mut values = top.values;
    values.extend(kept.values);
    let clause = Clause { sql: kept.sql, values };
    rows(client, &sql, &clause, |r| {
        Ok(NumberAttempts {
            number: get(r, 0)?,
            country: get(r, 1)?,
            country_inferred: get::<Option<bool>>(r, 2)?.unwrap_or(false),
            number_type: get::<Option<String>>(r, 3)?.unwrap_or_default(),
            attempts: n(r, 4)?,
            invites: n(r, 5)?,
            variants: n(r, 6)?,
            sources: n(r, 7)?,
            variant_samples: NumberAttempts::merge_samples(get::<Option<String>>(r, 8)?.as_deref().unwrap_or_default()),
        })
    })
}

pub(super) fn number_countries(client: &mut Client, f: &Filter) -> Result<Vec<CountryAttempts>> {
    let sql = "SELECT country COLLATE \"C\" AS c, count(DISTINCT number COLLATE \"C\"), sum(attempts)::bigint AS a,
                      sum(invites)::bigint
               FROM numbers {where} GROUP BY c ORDER BY a DESC, c NULLS FIRST";
    rows(client, sql, &Clause::new(f, "last_ns", None, &[], vec![]), |r| {
        Ok(CountryAttempts { country: get(r, 0)?, numbers: get(r, 1)?, attempts: n(r, 2)?, invites: n(r, 3)? })
    })
}

pub(super) fn top_passwords(client: &mut Client, f: &Filter, limit: u32) -> Result<Vec<PasswordAttempts>> {
    let sql = "SELECT password, count(*) AS n, count(DISTINCT username COLLATE \"C\"), count(DISTINCT src_ip),
                      count(*) FILTER (WHERE outcome = 'accepted')
               FROM auth_attempts {where} GROUP BY password ORDER BY n DESC, password COLLATE \"C\" LIMIT ?";
    let c = Clause::new(f, "ts_ns", Some("node"), &["password IS NOT NULL"], vec![]).then(i64::from(limit));
    rows(client, sql, &c, |r| {
        Ok(PasswordAttempts {
            password: get(r, 0)?,
            attempts: get(r, 1)?,
            extensions: get(r, 2)?,
            sources: get(r, 3)?,
            accepted: get(r, 4)?,
        })
    })
}

pub(super) fn top_extensions(client: &mut Client, f: &Filter, limit: u32) -> Result<Vec<ExtensionAttempts>> {
    let sql = "SELECT username, count(*) AS n, count(password), count(DISTINCT src_ip),
                      count(*) FILTER (WHERE outcome = 'accepted')
               FROM auth_attempts {where} GROUP BY username ORDER BY n DESC, username COLLATE \"C\" LIMIT ?";
    let c = Clause::new(f, "ts_ns", Some("node"), &["outcome <> 'extension_not_found'"], vec![]).then(i64::from(limit));
    rows(client, sql, &c, |r| {
        Ok(ExtensionAttempts {
            extension: get(r, 0)?,
            attempts: get(r, 1)?,
            passwords_recovered: get(r, 2)?,
            sources: get(r, 3)?,
            accepted: get(r, 4)?,
        })
    })
}

pub(super) fn node_stages(client: &mut Client, f: &Filter) -> Result<Vec<NodeStages>> {
    let sql = "SELECT node, count(DISTINCT src_ip COLLATE \"C\"),
                      count(DISTINCT CASE WHEN stage = ? THEN src_ip COLLATE \"C\" END),
                      count(DISTINCT CASE WHEN stage = ? THEN src_ip COLLATE \"C\" END),
                      count(DISTINCT CASE WHEN stage = ? THEN src_ip COLLATE \"C\" END),
                      count(DISTINCT CASE WHEN stage = ? AND detail LIKE '%\"succeeded\":1%' THEN src_ip COLLATE \"C\" END),
                      count(DISTINCT CASE WHEN stage = ? THEN src_ip COLLATE \"C\" END)
               FROM stages {where} GROUP BY node ORDER BY node COLLATE \"C\"";
    let names: Vec<Value> = [
        Stage::ServerScan,
        Stage::ExtensionScan,
        Stage::RegistrationHijacking,
        Stage::RegistrationHijacking,
        Stage::TollFraud,
    ]
    .into_iter()
    .map(|s| Box::new(s.as_str().to_owned()) as Value)
    .collect();
    // The select list's `?`s come first: the clause's values follow the stage names.
    let c = Clause::new(f, "first_ns", Some("node"), &["node <> ''"], names);
    rows(client, sql, &c, |r| {
        Ok(NodeStages {
            node: get(r, 0)?,
            attackers: get(r, 1)?,
            server_scan: get(r, 2)?,
            extension_scan: get(r, 3)?,
            registration_hijacking: get(r, 4)?,
            hijack_succeeded: get(r, 5)?,
            toll_fraud: get(r, 6)?,
        })
    })
}

pub(super) fn stage_totals(client: &mut Client, f: &Filter) -> Result<Vec<StageTotals>> {
    let sql = "SELECT stage, count(DISTINCT src_ip COLLATE \"C\"), sum(count)::bigint FROM stages {where}
               GROUP BY stage ORDER BY stage COLLATE \"C\"";
    rows(client, sql, &Clause::new(f, "first_ns", None, &["node = ''"], vec![]), |r| {
        Ok(StageTotals { stage: get(r, 0)?, sources: get(r, 1)?, messages: n(r, 2)? })
    })
}

pub(super) fn stage_sources(client: &mut Client, f: &Filter, stage: Stage) -> Result<i64> {
    let stage: Vec<Value> = vec![Box::new(stage.as_str().to_owned())];
    let c = if f.nodes.is_empty() {
        Clause::new(f, "first_ns", None, &["node = ''", "stage = ?"], stage)
    } else {
        Clause::new(f, "first_ns", Some("node"), &["node <> ''", "stage = ?"], stage)
    };
    count(client, "SELECT count(*) FROM (SELECT src_ip COLLATE \"C\" FROM stages {where} GROUP BY 1) s", &c)
}

pub(super) fn tool_flows(client: &mut Client, f: &Filter) -> Result<Vec<ToolFlows>> {
    // Each tool and variant's most common strategy over all flows, found in one pass (a
    // subquery per group read every flow again for each). Text is grouped `COLLATE "C"` (the
    // same groups, compared as bytes instead of through the database's locale: 82 → 52 ms
    // over 43,750 flows), so the usual strategy is looked up from the grouped rows.
    let sql = "WITH usual AS MATERIALIZED (
                 SELECT t, v, strategy FROM (
                   SELECT coalesce(tool, '') COLLATE \"C\" AS t, coalesce(variant, '') COLLATE \"C\" AS v,
                          strategy COLLATE \"C\" AS strategy,
                          row_number() OVER (PARTITION BY coalesce(tool, '') COLLATE \"C\", coalesce(variant, '') COLLATE \"C\"
                                             ORDER BY count(*) DESC, strategy COLLATE \"C\") AS r
                   FROM flows WHERE strategy <> 'undecided' GROUP BY 1, 2, 3) ranked
                 WHERE r = 1)
               SELECT tl, vr, vd, fst, p, s, c, (SELECT strategy FROM usual WHERE t = coalesce(tl, '') AND v = coalesce(vr, ''))
               FROM (SELECT tool COLLATE \"C\" AS tl, variant COLLATE \"C\" AS vr, tool_verdict COLLATE \"C\" AS vd,
                            min(first_ns) AS fst, sum(packets)::bigint AS p, count(DISTINCT src_ip COLLATE \"C\") AS s,
                            count(*) AS c
                     FROM flows {where} GROUP BY tl, vr, vd) g
               ORDER BY p DESC, tl NULLS FIRST, vr NULLS FIRST, vd";
    rows(client, sql, &Clause::new(f, "first_ns", None, &[], vec![]), |r| {
        Ok(ToolFlows {
            tool: get(r, 0)?,
            variant: get(r, 1)?,
            verdict: get(r, 2)?,
            first_ns: get(r, 3)?,
            packets: n(r, 4)?,
            sources: get(r, 5)?,
            flows: get(r, 6)?,
            strategy: get(r, 7)?,
        })
    })
}

pub(super) fn custom_fingerprints(client: &mut Client, f: &Filter, limit: u32) -> Result<Vec<FingerprintFlows>> {
    let sql = "SELECT fingerprint COLLATE \"C\" AS fp, count(*), sum(packets)::bigint AS p, count(DISTINCT src_ip COLLATE \"C\")
               FROM flows {where} GROUP BY fp ORDER BY p DESC, fp NULLS FIRST LIMIT ?";
    let c = Clause::new(f, "first_ns", None, &["tool_verdict = 'custom'"], vec![]).then(i64::from(limit));
    rows(client, sql, &c, |r| {
        Ok(FingerprintFlows { fingerprint: get(r, 0)?, flows: get(r, 1)?, packets: n(r, 2)?, sources: get(r, 3)? })
    })
}

pub(super) fn tools_by_year(client: &mut Client, f: &Filter) -> Result<Vec<ToolYear>> {
    let sql = "SELECT EXTRACT(YEAR FROM to_timestamp((first_ns / 1000000000)::double precision) AT TIME ZONE 'UTC')::bigint
                        AS year, tool, count(DISTINCT src_ip COLLATE \"C\"), sum(packets)::bigint AS p
               FROM flows {where} GROUP BY year, tool ORDER BY year NULLS FIRST, p DESC, tool COLLATE \"C\" NULLS FIRST";
    rows(client, sql, &Clause::new(f, "first_ns", None, &[], vec![]), |r| {
        Ok(ToolYear { year: get(r, 0)?, tool: get(r, 1)?, sources: get(r, 2)?, packets: n(r, 3)? })
    })
}

pub(super) fn strategy_flows(client: &mut Client, f: &Filter) -> Result<Vec<StrategyFlows>> {
    let sql = "SELECT strategy, count(*) AS c, count(DISTINCT src_ip COLLATE \"C\"), sum(packets)::bigint,
                      avg(destinations)::double precision
               FROM flows {where} GROUP BY strategy ORDER BY c DESC, strategy COLLATE \"C\"";
    rows(client, sql, &Clause::new(f, "first_ns", None, &[], vec![]), |r| {
        Ok(StrategyFlows {
            strategy: get(r, 0)?,
            flows: get(r, 1)?,
            sources: get(r, 2)?,
            packets: n(r, 3)?,
            mean_destinations: get::<Option<f64>>(r, 4)?.unwrap_or(0.0),
        })
    })
}

pub(super) fn source_tool_packets(client: &mut Client, f: &Filter) -> Result<Vec<SourceToolPackets>> {
    let sql = "SELECT src_ip COLLATE \"C\" AS s, tool COLLATE \"C\" AS t, sum(packets)::bigint FROM flows {where}
               GROUP BY s, t ORDER BY s, t NULLS FIRST";
    rows(client, sql, &Clause::new(f, "first_ns", None, &[], vec![]), |r| {
        Ok(SourceToolPackets { source: get(r, 0)?, tool: get(r, 1)?, packets: n(r, 2)? })
    })
}

pub(super) fn widest_flow(client: &mut Client, f: &Filter, source: Option<IpAddr>) -> Result<Option<FlowWindow>> {
    let c = match source {
        Some(ip) => Clause::new(f, "first_ns", None, &["src_ip = ?"], vec![Box::new(ip.to_string())]),
        None => Clause::new(f, "first_ns", None, &[], vec![]),
    };
    let sql = "SELECT src_ip, first_ns, last_ns FROM flows {where}
               ORDER BY destinations DESC, src_ip COLLATE \"C\", first_ns LIMIT 1";
    let found =
        rows(client, sql, &c, |r| Ok(FlowWindow { source: get(r, 0)?, first_ns: get(r, 1)?, last_ns: get(r, 2)? }))?;
    Ok(found.into_iter().next())
}

pub(super) fn source_days(client: &mut Client, from_day: i64, to_day: i64) -> Result<Vec<SourceDay>> {
    let found = client.query(
        "SELECT DISTINCT src_ip COLLATE \"C\" AS s, day FROM source_days WHERE day >= $1 AND day <= $2 ORDER BY s, day",
        &[&from_day, &to_day],
    )?;
    found.iter().map(|r| Ok(SourceDay { source: get(r, 0)?, day: get(r, 1)? })).collect()
}

pub(super) fn source_tool_activity(client: &mut Client, from_ns: i64, to_ns: i64) -> Result<Vec<SourceToolActivity>> {
    let found = client.query(
        "SELECT src_ip COLLATE \"C\", tool COLLATE \"C\", sum(packets)::bigint, sum(packets_per_s), count(*)
         FROM flows WHERE first_ns >= $1 AND first_ns < $2 GROUP BY 1, 2 ORDER BY 1, 2 NULLS FIRST",
        &[&from_ns, &to_ns],
    )?;
    found
        .iter()
        .map(|r| {
            Ok(SourceToolActivity {
                source: get(r, 0)?,
                tool: get(r, 1)?,
                packets: n(r, 2)?,
                packets_per_second_sum: get::<Option<f64>>(r, 3)?.unwrap_or(0.0),
                flows: get(r, 4)?,
            })
        })
        .collect()
}
