//! What a report is made of, independent of its format: sections of tables and charts.

use serde::Serialize;

/// One value of a table.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Cell {
    /// Text.
    Text(String),
    /// An integer.
    Int(i64),
    /// A decimal number.
    Float(f64),
    /// Nothing (shown as `-`, `null` in JSON, empty in CSV).
    Null,
}

impl Cell {
    /// Text for terminals and CSV.
    pub fn display(&self) -> String {
        match self {
            Cell::Text(s) => s.clone(),
            Cell::Int(n) => n.to_string(),
            Cell::Float(f) => format!("{f:.2}"),
            Cell::Null => "-".into(),
        }
    }

    /// Whether the value is numeric (right-aligned in text).
    pub fn is_number(&self) -> bool {
        matches!(self, Cell::Int(_) | Cell::Float(_))
    }
}

impl From<&str> for Cell {
    fn from(s: &str) -> Cell {
        Cell::Text(s.to_owned())
    }
}
impl From<String> for Cell {
    fn from(s: String) -> Cell {
        Cell::Text(s)
    }
}
impl From<i64> for Cell {
    fn from(n: i64) -> Cell {
        Cell::Int(n)
    }
}
impl From<f64> for Cell {
    fn from(f: f64) -> Cell {
        Cell::Float(f)
    }
}
impl<T: Into<Cell>> From<Option<T>> for Cell {
    fn from(v: Option<T>) -> Cell {
        v.map_or(Cell::Null, Into::into)
    }
}

/// A table: named columns and rows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Table {
    /// Short name (CSV file name part, JSON key).
    pub name: String,
    /// Title shown above it.
    pub title: String,
    /// Column names.
    pub columns: Vec<String>,
    /// Rows, each as long as `columns`.
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    /// An empty table with these columns.
    pub fn new(name: &str, title: &str, columns: &[&str]) -> Table {
        Table {
            name: name.into(),
            title: title.into(),
            columns: columns.iter().map(|c| (*c).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row.
    pub fn push(&mut self, row: Vec<Cell>) {
        self.rows.push(row);
    }
}

/// A chart drawn in the HTML report (and described in the others by its table).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Chart {
    /// Bars per label, one colour per series (stacked).
    Bars {
        /// Title.
        title: String,
        /// X labels.
        labels: Vec<String>,
        /// (series name, one value per label).
        series: Vec<(String, Vec<f64>)>,
    },
    /// Bubbles at (x, y) with a size (004 Fig. 6).
    Bubbles {
        /// Title.
        title: String,
        /// Axis names.
        axes: (String, String),
        /// (label, x, y, size).
        points: Vec<(String, f64, f64, f64)>,
    },
    /// Addresses of a netblock on a Hilbert curve, coloured by when they were hit (004 Fig. 2).
    Hilbert {
        /// Title.
        title: String,
        /// Cells per side (32 for a /22).
        side: u32,
        /// (x, y, order from 0 = first to 1 = last).
        cells: Vec<(u32, u32, f64)>,
    },
    /// A square matrix with a value per cell (heat map).
    Matrix {
        /// Title.
        title: String,
        /// Row and column labels.
        labels: Vec<String>,
        /// values[row][column].
        values: Vec<Vec<f64>>,
    },
}

/// One section of a report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Section {
    /// Its name (`summary`, `daily` …).
    pub name: String,
    /// Title.
    pub title: String,
    /// Tables.
    pub tables: Vec<Table>,
    /// Charts.
    pub charts: Vec<Chart>,
    /// Remarks (what is unknown, limits).
    pub notes: Vec<String>,
    /// Other documents, by file name (e.g. `country-pairs.dot`, a GraphViz graph).
    pub attachments: Vec<(String, String)>,
}

impl Section {
    /// A section with these tables.
    pub fn new(name: &str, title: &str) -> Section {
        Section {
            name: name.into(),
            title: title.into(),
            tables: Vec::new(),
            charts: Vec::new(),
            notes: Vec::new(),
            attachments: Vec::new(),
        }
    }
}

/// A whole report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// What it covers.
    pub scope: Scope,
    /// The sections, in the order asked for.
    pub sections: Vec<Section>,
}

/// The filters a report was made with.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scope {
    /// From (inclusive), ns.
    pub from_ns: Option<i64>,
    /// To (exclusive), ns.
    pub to_ns: Option<i64>,
    /// Nodes; all when empty.
    pub nodes: Vec<String>,
}
