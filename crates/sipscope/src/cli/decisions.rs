//! `sipscope decisions list|add|delete|flush|export`: the operator's side of decisions, in
//! the same store a running sensor's policy writes and re-reads (so a ban added here reaches
//! a running honeypot within a second). Nothing is erased: delete and flush record who and why.

use anyhow::Context;
use sipscope::act::export::{self, Format};
use sipscope::act::policy::{DecisionsConfig, Policy};
use sipscope::act::{Decision, DecisionKind, DecisionOrigin, Scope};
use sipscope::output::escape::terminal;
use sipscope::sinks::decisions::Deletion;
use sipscope::store::{DecisionRow, Filter};
use sipscope::time::{iso_time, now_ns};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct DecisionsArgs {
    /// The store (SQLite), shared with the sensor whose decisions these are.
    #[arg(long, default_value = "sipscope.db", global = true)]
    db: PathBuf,
    #[command(subcommand)]
    command: DecisionsCommand,
}

#[derive(Debug, clap::Subcommand)]
enum DecisionsCommand {
    /// Decisions in force (with --all: every decision, expired and deleted ones too).
    List {
        /// Every decision, not only those in force.
        #[arg(long)]
        all: bool,
        /// One EVE-like JSON object a line (docs/alerts.md) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Add a decision: ban, rate-limit or watch an address, address and port, or network.
    Add {
        /// `192.0.2.7`, `192.0.2.7:5060`, `[2001:db8::7]:5060` or `192.0.2.0/24`.
        scope: Scope,
        /// How long: `90s`, `15m`, `2h`, `7d`.
        #[arg(long, value_parser = sipscope::time::parse_duration)]
        duration: i64,
        /// Why (stored and shown with the decision).
        #[arg(long)]
        reason: String,
        /// What: ban, rate-limit or watch.
        #[arg(long, default_value = "ban")]
        kind: DecisionKind,
        /// For rate-limit: packets a second let through.
        #[arg(long, default_value_t = 10)]
        rate: u32,
        /// Who decides (default: the login name).
        #[arg(long)]
        who: Option<String>,
    },
    /// Delete decisions by id, or every one with exactly this scope (recorded, not erased).
    Delete {
        /// A decision's id, or a scope.
        target: String,
        /// Why.
        #[arg(long, default_value = "deleted by an operator")]
        reason: String,
        /// Who (default: the login name).
        #[arg(long)]
        who: Option<String>,
    },
    /// Delete every decision (recorded, not erased); a running sensor lifts them within a second.
    Flush {
        /// Why.
        #[arg(long, default_value = "flushed by an operator")]
        reason: String,
        /// Who (default: the login name).
        #[arg(long)]
        who: Option<String>,
        /// Also delete this nftables table (the honeypot's `[enforce] table`, e.g. `sipscope`),
        /// so nothing sipscope installed is left even when no sensor runs (uninstall).
        #[arg(long, value_name = "TABLE")]
        nftables: Option<String>,
    },
    /// The decisions in force for another tool: plain (bans, one scope a line), nftables (the
    /// enforcer's ruleset as JSON for `nft -j -f`) or fail2ban (log lines; docs/decisions.md).
    Export {
        /// plain, nftables or fail2ban.
        #[arg(long)]
        format: Format,
        /// The nftables table the ruleset fills (as `[enforce] table`).
        #[arg(long, default_value = "sipscope_export")]
        table: String,
    },
}

/// The operator's name: `--who`, else the login name (sudo's caller first).
fn who(given: Option<String>) -> String {
    given.filter(|w| !w.trim().is_empty()).unwrap_or_else(|| {
        ["SUDO_USER", "USER", "LOGNAME"]
            .iter()
            .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
            .unwrap_or_else(|| format!("uid {}", nix::unistd::getuid()))
    })
}

pub fn run(args: DecisionsArgs) -> anyhow::Result<ExitCode> {
    let db = &args.db;
    let open_log = || {
        sipscope::sinks::open_decision_log(db).with_context(|| format!("opening {}", sipscope::sinks::store_name(db)))
    };
    let now = now_ns();
    match args.command {
        DecisionsCommand::List { all, json } => {
            let reader = reader(db)?;
            let rows =
                if all { reader.decisions(&Filter::default(), u32::MAX)? } else { reader.decisions_in_force(now)? };
            if json {
                for r in &rows {
                    println!("{}", sipscope::sinks::eve::shape::decision_json(&r.decision));
                }
            } else {
                print!("{}", table(&rows, now));
            }
        }
        DecisionsCommand::Add { scope, duration, reason, kind, rate, who: by } => {
            refuse_unsafe(&scope)?;
            let kind = match kind {
                DecisionKind::RateLimit { .. } if rate == 0 => anyhow::bail!("--rate must be at least 1"),
                DecisionKind::RateLimit { .. } => DecisionKind::RateLimit { per_second: rate },
                other => other,
            };
            let decision = Decision {
                id: None,
                kind,
                scope,
                start_ns: now,
                until_ns: now.saturating_add(duration),
                reason,
                origin: DecisionOrigin::Operator { who: who(by) },
                offence: 0,
                proven: true,
                evidence: Vec::new(),
            };
            let id = open_log()?.insert(&decision, None, now)?;
            println!("decision {id}: {} {scope} until {}", decision.kind.as_str(), iso_time(decision.until_ns));
        }
        DecisionsCommand::Delete { target, reason, who: by } => {
            let deletion = Deletion { at_ns: now, who: who(by), why: reason };
            let mut log = open_log()?;
            let n = match target.parse::<i64>() {
                Ok(id) => u64::from(log.delete_id(id, &deletion)?),
                Err(_) => {
                    let scope: Scope = target.parse().map_err(|e: String| anyhow::anyhow!(e))?;
                    log.delete_scope(&scope, &deletion)?
                }
            };
            println!("deleted {n} decision(s)");
            if n == 0 {
                return Ok(ExitCode::from(1));
            }
        }
        DecisionsCommand::Flush { reason, who: by, nftables } => {
            let n = open_log()?.delete_all(&Deletion { at_ns: now, who: who(by), why: reason })?;
            println!("deleted {n} decision(s)");
            if let Some(table) = nftables {
                let config = sipscope::act::enforce::EnforceConfig {
                    nftables: true,
                    table,
                    ..sipscope::act::enforce::EnforceConfig::default()
                };
                config.check().map_err(anyhow::Error::msg)?;
                if let Some(mut enforcer) = sipscope::act::enforce::NftEnforcer::from_config(&config)? {
                    use sipscope::act::Enforcer;
                    enforcer.remove_all()?;
                    println!("deleted nftables table inet {}", config.table);
                }
            }
        }
        DecisionsCommand::Export { format, table } => {
            let rows = reader(db)?.decisions_in_force(now)?;
            let decisions: Vec<Decision> = rows.into_iter().map(|r| r.decision).collect();
            print!("{}", export::export(format, &decisions, now, &table)?);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn reader(db: &std::path::Path) -> anyhow::Result<Box<dyn sipscope::store::StoreReader + Send>> {
    super::open_reader(db)
}

/// An operator may ban anything but this host, loopback, or most of the Internet at once.
fn refuse_unsafe(scope: &Scope) -> anyhow::Result<()> {
    let own = super::own_addresses();
    let policy = Policy::new(DecisionsConfig::default(), &own, &[]).map_err(|e| anyhow::anyhow!(e))?;
    if let Some((ip, _)) = policy.protection(scope, true) {
        anyhow::bail!("{scope} reaches {ip}, this host's own or a loopback address: refused");
    }
    let widest = if scope.address().is_ipv4() { 8 } else { 16 };
    if scope.as_prefix().len < widest {
        anyhow::bail!("{scope} is wider than /{widest}: refused");
    }
    Ok(())
}

/// The rows as an aligned table; attacker and operator text escaped.
fn table(rows: &[DecisionRow], now: i64) -> String {
    let header = ["id", "kind", "scope", "from", "until", "state", "by", "offence", "proven", "reason"];
    let lines: Vec<[String; 10]> = rows
        .iter()
        .map(|r| {
            let d = &r.decision;
            let state = match &r.deleted {
                Some(del) => format!("deleted by {}", terminal(&del.who, 24)),
                None if d.active(now) => "in force".into(),
                None if d.start_ns > now => "pending".into(),
                None => "expired".into(),
            };
            let kind = match d.kind {
                DecisionKind::RateLimit { per_second } => format!("rate-limit {per_second}/s"),
                k => k.as_str().to_owned(),
            };
            [
                d.id.map_or("-".into(), |i| i.to_string()),
                kind,
                d.scope.to_string(),
                iso_time(d.start_ns),
                iso_time(d.until_ns),
                state,
                format!("{} {}", d.origin.kind_name(), terminal(d.origin.name(), 40)),
                d.offence.to_string(),
                if d.proven { "yes" } else { "no" }.into(),
                terminal(&d.reason, 100),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for line in &lines {
        for (w, cell) in widths.iter_mut().zip(line) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut push = |cells: &[String]| {
        let parts: Vec<String> = cells.iter().zip(widths).map(|(c, w)| format!("{c:<w$}")).collect();
        out.push_str(parts.join("  ").trim_end());
        out.push('\n');
    };
    push(&header.map(str::to_owned));
    for line in &lines {
        push(line);
    }
    out
}
