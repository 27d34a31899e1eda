//! The configuration file of `sipscope report --config FILE`: the `[geo]` databases and the
//! `[report]` defaults an operator wants every time. Command-line flags override it (the CLI
//! merges); relative paths are taken from the file's own directory, so a configuration kept
//! next to its databases works from any working directory.

use crate::enrich::GeoConfig;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The whole file. Every table refuses unknown keys, so a typo is an error, never a setting
/// silently ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportConfig {
    /// `[geo]`: `country_db`, `asn_db` (docs/enrichment.md).
    #[serde(default)]
    pub geo: GeoConfig,
    /// `[report]`: defaults for `report`'s flags.
    #[serde(default)]
    pub report: ReportDefaults,
}

/// `[report]`: what `--db`, `--nodes` and `--stored-nodes` default to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportDefaults {
    /// The store (`--db`).
    #[serde(default)]
    pub db: Option<PathBuf>,
    /// The nodes file (`--nodes`): applied at report time (the stored events are analysed
    /// again with it), and node addresses and sites in `stages`.
    #[serde(default)]
    pub nodes: Option<PathBuf>,
    /// `--stored-nodes`: the per-node tables keep the nodes the store's analysis has, and the
    /// nodes file only adds addresses and sites (no analysis at report time). Default false.
    #[serde(default)]
    pub stored_nodes: bool,
}

/// Why a configuration file was refused. Each message is one line that names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Missing or unreadable.
    #[error("{}: cannot read: {error}", path.display())]
    Read {
        /// The configuration file.
        path: PathBuf,
        /// The I/O error (in the message, not a `source`, so chains print it once).
        error: std::io::Error,
    },
    /// Not TOML, an unknown key, or a value of the wrong type.
    #[error("{}: line {line}: {message}", path.display())]
    Syntax {
        /// The configuration file.
        path: PathBuf,
        /// 1-based line of the offending key or value.
        line: usize,
        /// What the TOML reader found, on one line.
        message: String,
    },
    /// A file it names cannot be read.
    #[error("{}: {key} = {}: {error}", path.display(), target.display())]
    Path {
        /// The configuration file.
        path: PathBuf,
        /// The setting (`[geo] country_db`).
        key: &'static str,
        /// The file it names, resolved.
        target: PathBuf,
        /// Why it cannot be read.
        error: std::io::Error,
    },
}

impl ReportConfig {
    /// Reads, parses and resolves `path`; every file it names must be a readable file, so a
    /// wrong path is reported against the configuration that holds it.
    pub fn load(path: &Path) -> Result<ReportConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read { path: path.into(), error })?;
        let config = ReportConfig::parse(&text, path)?;
        for (key, target) in config.paths() {
            let readable = std::fs::File::open(target).and_then(|f| match f.metadata()?.is_dir() {
                true => Err(std::io::Error::other("is a directory")),
                false => Ok(()),
            });
            readable.map_err(|error| ConfigError::Path { path: path.into(), key, target: target.into(), error })?;
        }
        Ok(config)
    }

    /// Parses the text of the file at `path` and resolves its relative paths against the
    /// directory of `path` (no file is opened).
    pub fn parse(text: &str, path: &Path) -> Result<ReportConfig, ConfigError> {
        let mut config: ReportConfig = toml::from_str(text).map_err(|e| {
            let line = e.span().map_or(1, |s| text.get(..s.start).unwrap_or(text).matches('\n').count() + 1);
            let message = e.message().split_whitespace().collect::<Vec<_>>().join(" ");
            ConfigError::Syntax { path: path.into(), line, message }
        })?;
        let base = path.parent().unwrap_or(Path::new(""));
        for p in [&mut config.geo.country_db, &mut config.geo.asn_db, &mut config.report.db, &mut config.report.nodes]
            .into_iter()
            .flatten()
        {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        Ok(config)
    }

    /// Every path the file names, with its setting.
    fn paths(&self) -> impl Iterator<Item = (&'static str, &Path)> {
        [
            ("[geo] country_db", &self.geo.country_db),
            ("[geo] asn_db", &self.geo.asn_db),
            ("[report] db", &self.report.db),
            ("[report] nodes", &self.report.nodes),
        ]
        .into_iter()
        .filter_map(|(key, p)| Some((key, p.as_deref()?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = "[geo]\ncountry_db = \"geo/country.mmdb\"\nasn_db = \"/abs/asn.mmdb\"\n\
                        [report]\ndb = \"../lab.db\"\nnodes = \"nodes.toml\"\n";

    #[test]
    fn relative_paths_are_taken_from_the_files_directory() {
        let c = ReportConfig::parse(FULL, Path::new("/etc/sipscope/report.toml")).unwrap();
        assert_eq!(c.geo.country_db.as_deref(), Some(Path::new("/etc/sipscope/geo/country.mmdb")));
        assert_eq!(c.geo.asn_db.as_deref(), Some(Path::new("/abs/asn.mmdb")));
        assert_eq!(c.report.db.as_deref(), Some(Path::new("/etc/sipscope/../lab.db")));
        assert_eq!(c.report.nodes.as_deref(), Some(Path::new("/etc/sipscope/nodes.toml")));
        // A bare file name: relative to the working directory, like the file itself.
        let c = ReportConfig::parse(FULL, Path::new("report.toml")).unwrap();
        assert_eq!(c.geo.country_db.as_deref(), Some(Path::new("geo/country.mmdb")));
    }

    #[test]
    fn empty_file_and_missing_tables_are_defaults() {
        assert_eq!(ReportConfig::parse("", Path::new("r.toml")).unwrap(), ReportConfig::default());
        let c = ReportConfig::parse("[report]\nnodes = \"n.toml\"\n", Path::new("/x/r.toml")).unwrap();
        assert_eq!(c.geo, GeoConfig::default());
        assert_eq!(c.report.db, None);
        assert!(!c.report.stored_nodes, "nodes apply at report time unless told");
        let c = ReportConfig::parse("[report]\nstored_nodes = true\n", Path::new("r.toml")).unwrap();
        assert!(c.report.stored_nodes);
    }

    #[test]
    fn unknown_keys_are_refused_on_one_line_naming_file_and_line() {
        for (text, line, word) in [
            ("[geo]\ncountry_db = \"a.mmdb\"\ncontry_db = \"b.mmdb\"\n", 3, "contry_db"),
            ("[report]\nformat = \"json\"\n", 2, "format"),
            ("[goe]\n", 1, "goe"),
            ("[geo]\ncountry_db = 5\n", 2, "string"),
        ] {
            let e = ReportConfig::parse(text, Path::new("/etc/r.toml")).unwrap_err().to_string();
            assert!(e.starts_with(&format!("/etc/r.toml: line {line}: ")), "{e}");
            assert!(e.contains(word) && !e.contains('\n'), "{e}");
        }
    }

    #[test]
    fn load_refuses_paths_that_cannot_be_read() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("r.toml");
        std::fs::write(&cfg, "[geo]\nasn_db = \"missing.mmdb\"\n").unwrap();
        let e = ReportConfig::load(&cfg).unwrap_err().to_string();
        assert!(e.starts_with(&format!("{}: [geo] asn_db = ", cfg.display())), "{e}");
        assert!(e.contains("missing.mmdb") && !e.contains('\n'), "{e}");
        std::fs::write(&cfg, "[report]\nnodes = \".\"\n").unwrap();
        assert!(ReportConfig::load(&cfg).unwrap_err().to_string().contains("is a directory"));
        std::fs::write(dir.path().join("n.toml"), "").unwrap();
        std::fs::write(&cfg, "[report]\nnodes = \"n.toml\"\n").unwrap();
        assert_eq!(ReportConfig::load(&cfg).unwrap().report.nodes, Some(dir.path().join("n.toml")));
        let e = ReportConfig::load(&dir.path().join("none.toml")).unwrap_err().to_string();
        assert!(e.contains("none.toml: cannot read"), "{e}");
    }
}
