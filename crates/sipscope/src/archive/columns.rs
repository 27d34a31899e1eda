//! Rows gathered column by column and written as Parquet row groups, with the parquet crate's
//! low-level column writers (no Arrow: the archive needs flat columns of a few physical types,
//! and Arrow would double the build). Each exported file declares its schema as a list of
//! [`ColumnSpec`]s; rows are pushed cell by cell in that order and flushed every
//! [`ROW_GROUP_ROWS`] rows, so memory stays bounded whatever the store holds.

use super::ArchiveError;
use parquet::basic::{Compression, ZstdLevel};
use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int32Type, Int64Type};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::Type;
use std::fs::File;
use std::sync::Arc;

/// Rows per row group: large enough for good compression and column statistics, small
/// enough that a row group of raw messages (at most a few KB each) stays in the tens of MB.
pub const ROW_GROUP_ROWS: usize = 16_384;

/// The physical and logical type of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// UTF-8 text (`BYTE_ARRAY (STRING)`).
    Text,
    /// Bytes as they were (`BYTE_ARRAY`).
    Bytes,
    /// A 64-bit integer.
    Int64,
    /// A 32-bit integer (ports, statuses).
    Int32,
    /// A 64-bit float.
    Double,
    /// Nanoseconds since the Unix epoch, UTC (`INT64 (TIMESTAMP(NANOS,true))`).
    TimestampNs,
}

/// A column of an exported file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnSpec {
    /// Its name (ours: never attacker text).
    pub name: String,
    /// Its type.
    pub kind: Kind,
    /// Whether it may be null.
    pub optional: bool,
}

impl ColumnSpec {
    /// A column that may be null.
    pub fn optional(name: &str, kind: Kind) -> ColumnSpec {
        ColumnSpec { name: name.to_owned(), kind, optional: true }
    }

    /// A column that is never null.
    pub fn required(name: &str, kind: Kind) -> ColumnSpec {
        ColumnSpec { name: name.to_owned(), kind, optional: false }
    }

    fn schema_line(&self) -> String {
        let repetition = if self.optional { "OPTIONAL" } else { "REQUIRED" };
        let ty = match self.kind {
            Kind::Text => "BYTE_ARRAY",
            Kind::Bytes => "BYTE_ARRAY",
            Kind::Int64 | Kind::TimestampNs => "INT64",
            Kind::Int32 => "INT32",
            Kind::Double => "DOUBLE",
        };
        let logical = match self.kind {
            Kind::Text => " (STRING)",
            Kind::TimestampNs => " (TIMESTAMP(NANOS,true))",
            _ => "",
        };
        format!("{repetition} {ty} {}{logical};", self.name)
    }
}

/// One cell of a row.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    /// Null (only in optional columns).
    Null,
    /// Text or bytes.
    Bytes(&'a [u8]),
    /// An integer (also timestamps and 32-bit columns, checked on push).
    Int(i64),
    /// A float.
    Double(f64),
}

enum Buffer {
    Bytes(Vec<ByteArray>),
    Int64(Vec<i64>),
    Int32(Vec<i32>),
    Double(Vec<f64>),
}

struct Column {
    spec: ColumnSpec,
    values: Buffer,
    /// Definition levels (1 present, 0 null), for optional columns.
    defined: Vec<i16>,
}

/// A Parquet file being written, row by row.
pub struct ParquetFile {
    writer: SerializedFileWriter<File>,
    columns: Vec<Column>,
    rows_buffered: usize,
    rows_written: u64,
    next_cell: usize,
}

impl ParquetFile {
    /// Creates the file at `path` (it must not exist: archives are never overwritten in place)
    /// with these columns and key-value metadata (the schema's name and version).
    pub fn create(
        path: &std::path::Path,
        columns: Vec<ColumnSpec>,
        metadata: Vec<(String, String)>,
    ) -> Result<ParquetFile, ArchiveError> {
        let lines: Vec<String> = columns.iter().map(ColumnSpec::schema_line).collect();
        let message = format!("message sipscope {{ {} }}", lines.join(" "));
        let schema: Arc<Type> = Arc::new(parquet::schema::parser::parse_message_type(&message)?);
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::default()))
            .set_created_by(format!("sipscope {}", env!("CARGO_PKG_VERSION")))
            .set_key_value_metadata(Some(metadata.into_iter().map(|(k, v)| KeyValue::new(k, v)).collect()))
            .build();
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|e| ArchiveError::Io(path.display().to_string(), e))?;
        let writer = SerializedFileWriter::new(file, schema, Arc::new(props))?;
        let columns = columns
            .into_iter()
            .map(|spec| {
                let values = match spec.kind {
                    Kind::Text | Kind::Bytes => Buffer::Bytes(Vec::new()),
                    Kind::Int64 | Kind::TimestampNs => Buffer::Int64(Vec::new()),
                    Kind::Int32 => Buffer::Int32(Vec::new()),
                    Kind::Double => Buffer::Double(Vec::new()),
                };
                Column { spec, values, defined: Vec::new() }
            })
            .collect();
        Ok(ParquetFile { writer, columns, rows_buffered: 0, rows_written: 0, next_cell: 0 })
    }

    /// Pushes the next cell of the current row (cells in column order).
    pub fn push(&mut self, value: Value<'_>) -> Result<(), ArchiveError> {
        let Some(column) = self.columns.get_mut(self.next_cell) else {
            return Err(ArchiveError::Shape(format!("a row has more than {} cells", self.columns.len())));
        };
        let name = &column.spec.name;
        match (&mut column.values, value) {
            (_, Value::Null) if column.spec.optional => {
                column.defined.push(0);
                self.next_cell += 1;
                return Ok(());
            }
            (Buffer::Bytes(v), Value::Bytes(b)) => v.push(ByteArray::from(b.to_vec())),
            (Buffer::Int64(v), Value::Int(n)) => v.push(n),
            (Buffer::Int32(v), Value::Int(n)) => {
                let n =
                    i32::try_from(n).map_err(|_| ArchiveError::Shape(format!("{name}: {n} is not a 32-bit value")))?;
                v.push(n)
            }
            (Buffer::Double(v), Value::Double(f)) => v.push(f),
            (Buffer::Double(v), Value::Int(n)) => v.push(n as f64),
            (_, other) => {
                return Err(ArchiveError::Shape(format!("{name}: {other:?} does not fit {:?}", column.spec.kind)))
            }
        }
        if column.spec.optional {
            column.defined.push(1);
        }
        self.next_cell += 1;
        Ok(())
    }

    /// Ends the current row; writes a row group when enough rows are buffered.
    pub fn end_row(&mut self) -> Result<(), ArchiveError> {
        if self.next_cell != self.columns.len() {
            return Err(ArchiveError::Shape(format!("a row has {} of {} cells", self.next_cell, self.columns.len())));
        }
        self.next_cell = 0;
        self.rows_buffered += 1;
        if self.rows_buffered >= ROW_GROUP_ROWS {
            self.write_row_group()?;
        }
        Ok(())
    }

    fn write_row_group(&mut self) -> Result<(), ArchiveError> {
        if self.rows_buffered == 0 {
            return Ok(());
        }
        let mut group = self.writer.next_row_group()?;
        for column in &mut self.columns {
            let Some(mut out) = group.next_column()? else {
                return Err(ArchiveError::Shape("the schema has fewer columns than the rows".into()));
            };
            let defined = column.spec.optional.then_some(column.defined.as_slice());
            match &mut column.values {
                Buffer::Bytes(v) => out.typed::<ByteArrayType>().write_batch(v, defined, None)?,
                Buffer::Int64(v) => out.typed::<Int64Type>().write_batch(v, defined, None)?,
                Buffer::Int32(v) => out.typed::<Int32Type>().write_batch(v, defined, None)?,
                Buffer::Double(v) => out.typed::<DoubleType>().write_batch(v, defined, None)?,
            };
            out.close()?;
            match &mut column.values {
                Buffer::Bytes(v) => v.clear(),
                Buffer::Int64(v) => v.clear(),
                Buffer::Int32(v) => v.clear(),
                Buffer::Double(v) => v.clear(),
            }
            column.defined.clear();
        }
        group.close()?;
        self.rows_written += self.rows_buffered as u64;
        self.rows_buffered = 0;
        Ok(())
    }

    /// Writes what is buffered and the footer; returns the rows written.
    pub fn finish(mut self) -> Result<u64, ArchiveError> {
        if self.next_cell != 0 {
            return Err(ArchiveError::Shape("the last row is incomplete".into()));
        }
        self.write_row_group()?;
        self.writer.close()?;
        Ok(self.rows_written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_that_do_not_fit_the_schema_are_refused_not_written() {
        let dir = tempfile::tempdir().unwrap();
        let specs = vec![ColumnSpec::required("n", Kind::Int32), ColumnSpec::optional("s", Kind::Text)];
        let mut f = ParquetFile::create(&dir.path().join("a.parquet"), specs.clone(), vec![]).unwrap();
        assert!(matches!(f.push(Value::Int(1 << 40)), Err(ArchiveError::Shape(_))));
        let mut f = ParquetFile::create(&dir.path().join("b.parquet"), specs.clone(), vec![]).unwrap();
        assert!(matches!(f.push(Value::Null), Err(ArchiveError::Shape(_))), "null in a required column");
        f.push(Value::Int(1)).unwrap();
        assert!(matches!(f.end_row(), Err(ArchiveError::Shape(_))), "a short row");
        f.push(Value::Null).unwrap();
        f.end_row().unwrap();
        f.push(Value::Int(2)).unwrap();
        assert!(matches!(f.push(Value::Int(3)), Err(ArchiveError::Shape(_))), "an int in a text column");
        // An existing file is never overwritten.
        assert!(matches!(ParquetFile::create(&dir.path().join("b.parquet"), specs, vec![]), Err(ArchiveError::Io(..))));
    }

    #[test]
    fn row_groups_are_flushed_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.parquet");
        let mut f = ParquetFile::create(&path, vec![ColumnSpec::optional("s", Kind::Bytes)], vec![]).unwrap();
        let n = ROW_GROUP_ROWS * 2 + 7;
        for i in 0..n {
            f.push(if i % 3 == 0 { Value::Null } else { Value::Bytes(b"\xff\x00x") }).unwrap();
            f.end_row().unwrap();
        }
        assert_eq!(f.finish().unwrap(), n as u64);
        let reader = parquet::file::reader::SerializedFileReader::new(std::fs::File::open(&path).unwrap()).unwrap();
        use parquet::file::reader::FileReader;
        assert_eq!(reader.metadata().num_row_groups(), 3);
        assert_eq!(reader.metadata().file_metadata().num_rows(), n as i64);
    }
}
