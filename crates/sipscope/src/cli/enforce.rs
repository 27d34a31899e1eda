//! `sipscope enforce` (hidden): applies a file of decisions to nftables directly, with no
//! store and no policy, for the network-namespace tests and for trying enforcement by hand.
//! Operators use `[enforce]` and `sipscope decisions`.
//!
//! The file (TOML), each decision counted from now:
//! ```toml
//! [[decision]]
//! kind = "ban"            # or "rate-limit", with per_second
//! scope = "192.0.2.0/24"  # an address, ADDRESS:PORT ([2001:db8::1]:5060), or a prefix
//! seconds = 300
//! ```

use anyhow::{bail, Context};
use sipscope::act::enforce::{self, NftEnforcer, NftSettings};
use sipscope::act::{Decision, DecisionKind, DecisionOrigin, Enforcer, Prefix, Scope};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct EnforceArgs {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Make the table hold exactly the decisions of FILE; prints what was installed (JSON).
    Reconcile {
        /// The decisions (TOML, see above).
        file: PathBuf,
        /// The `inet` table.
        #[arg(long, default_value = "sipscope")]
        table: String,
        /// Print the nftables JSON instead of applying it.
        #[arg(long)]
        dry: bool,
    },
    /// Delete the table and everything in it.
    Remove {
        /// The `inet` table.
        #[arg(long, default_value = "sipscope")]
        table: String,
        /// Print the nftables JSON instead of applying it.
        #[arg(long)]
        dry: bool,
    },
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct DecisionsFile {
    #[serde(default)]
    decision: Vec<DecisionLine>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct DecisionLine {
    kind: String,
    scope: String,
    seconds: u32,
    #[serde(default)]
    per_second: Option<u32>,
}

pub fn run(args: EnforceArgs) -> anyhow::Result<ExitCode> {
    crate::init_logging("warn");
    match args.action {
        Action::Reconcile { file, table, dry } => {
            let text = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
            let parsed: DecisionsFile = toml::from_str(&text).with_context(|| format!("{}", file.display()))?;
            let now = sipscope::time::now_ns();
            let decisions = parsed.decision.iter().map(|d| decision(now, d)).collect::<anyhow::Result<Vec<_>>>()?;
            let settings = NftSettings::new(&table);
            if dry {
                println!("{}", enforce::reconcile_json(&settings, now, &decisions)?);
                return Ok(ExitCode::SUCCESS);
            }
            let mut enforcer = NftEnforcer::new(settings)?;
            enforcer.reconcile(now, &decisions)?;
            println!("{}", serde_json::to_string(&enforcer.last())?);
        }
        Action::Remove { table, dry } => {
            enforce::check_table_name(&table).map_err(anyhow::Error::msg)?;
            if dry {
                println!("{}", enforce::removal_json(&table)?);
                return Ok(ExitCode::SUCCESS);
            }
            NftEnforcer::new(NftSettings::new(&table))?.remove_all()?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn decision(now: i64, line: &DecisionLine) -> anyhow::Result<Decision> {
    let kind = match (line.kind.as_str(), line.per_second) {
        ("ban", None) => DecisionKind::Ban,
        ("rate-limit", Some(per_second)) => DecisionKind::RateLimit { per_second },
        _ => bail!("kind {:?}: \"ban\", or \"rate-limit\" with per_second", line.kind),
    };
    let scope = if let Ok(sa) = line.scope.parse::<SocketAddr>() {
        Scope::AddressPort(sa.ip(), sa.port())
    } else if let Ok(ip) = line.scope.parse::<IpAddr>() {
        Scope::Address(ip)
    } else {
        Scope::Prefix(line.scope.parse::<Prefix>().map_err(anyhow::Error::msg)?)
    };
    Ok(Decision {
        id: None,
        kind,
        scope,
        start_ns: now,
        until_ns: now.saturating_add(i64::from(line.seconds) * 1_000_000_000),
        reason: "sipscope enforce".into(),
        origin: DecisionOrigin::Operator { who: "sipscope enforce".into() },
        offence: 0,
        proven: true,
        evidence: vec![],
    })
}
