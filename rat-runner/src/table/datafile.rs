//! Manifest entries for Parquet files DuckDB wrote: record counts, sizes and
//! column bounds read from each file's footer.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use bytes::Bytes;
use iceberg::io::FileIO;
use iceberg::spec::{
    DataContentType, DataFile, DataFileBuilder, DataFileFormat, Datum, PrimitiveType, Schema,
    Struct, Type,
};
use parquet::basic::{LogicalType, TimeUnit};
use parquet::errors::ParquetError;
use parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};
use parquet::file::statistics::Statistics;
use rat_core::{Error, ErrorKind, Result};

/// How many characters of a string bound are kept. Lower bounds are cut
/// (a prefix is still a lower bound); upper bounds longer than this are
/// dropped rather than risk an invalid bound.
const STRING_BOUND_CHARS: usize = 16;

/// First guess of the footer size; a second read fetches the rest if needed.
const FOOTER_GUESS: u64 = 64 * 1024;

/// Reads the footer of the file at `path` and describes it as the Iceberg
/// [`DataFile`] `record_as` (its final location, when it is uploaded
/// elsewhere) of `schema`, in partition `partition` of spec `spec_id`.
pub async fn describe_data_file(
    file_io: &FileIO,
    path: &str,
    record_as: &str,
    schema: &Schema,
    partition: Struct,
    spec_id: i32,
) -> Result<DataFile> {
    let input = file_io.new_input(path).map_err(|e| io_error(path, e))?;
    let size = input.metadata().await.map_err(|e| io_error(path, e))?.size;
    let reader = input.reader().await.map_err(|e| io_error(path, e))?;
    let read_tail = |len: u64| {
        let start = size.saturating_sub(len);
        reader.read(start..size)
    };
    let mut tail: Bytes = read_tail(FOOTER_GUESS.min(size))
        .await
        .map_err(|e| io_error(path, e))?;
    let mut parser = ParquetMetaDataReader::new();
    if let Err(ParquetError::NeedMoreData(needed)) = parser.try_parse_sized(&tail, size) {
        tail = read_tail(needed as u64)
            .await
            .map_err(|e| io_error(path, e))?;
        parser
            .try_parse_sized(&tail, size)
            .map_err(|e| footer_error(path, e))?;
    }
    let metadata = parser.finish().map_err(|e| footer_error(path, e))?;
    build_data_file(record_as, size, &metadata, schema, partition, spec_id)
}

fn build_data_file(
    path: &str,
    size: u64,
    metadata: &ParquetMetaData,
    schema: &Schema,
    partition: Struct,
    spec_id: i32,
) -> Result<DataFile> {
    let mut column_sizes: HashMap<i32, u64> = HashMap::new();
    let mut value_counts: HashMap<i32, u64> = HashMap::new();
    let mut null_counts: HashMap<i32, u64> = HashMap::new();
    let mut lower: HashMap<i32, Datum> = HashMap::new();
    let mut upper: HashMap<i32, Datum> = HashMap::new();
    // A bound is only kept when every row group provides one.
    let mut no_lower: HashSet<i32> = HashSet::new();
    let mut no_upper: HashSet<i32> = HashSet::new();

    for row_group in metadata.row_groups() {
        for column in row_group.columns() {
            let descr = column.column_descr();
            let info = descr.self_type().get_basic_info();
            if !info.has_id() {
                continue;
            }
            let field_id = info.id();
            *column_sizes.entry(field_id).or_default() += column.compressed_size().max(0) as u64;
            *value_counts.entry(field_id).or_default() += column.num_values().max(0) as u64;
            let Some(stats) = column.statistics() else {
                no_lower.insert(field_id);
                no_upper.insert(field_id);
                continue;
            };
            if let Some(nulls) = stats.null_count_opt() {
                *null_counts.entry(field_id).or_default() += nulls;
            }
            let Some(Type::Primitive(ty)) = schema.field_by_id(field_id).map(|f| &*f.field_type)
            else {
                continue;
            };
            let unit = match descr.logical_type_ref() {
                Some(LogicalType::Timestamp { unit, .. })
                | Some(LogicalType::Time { unit, .. }) => Some(*unit),
                _ => None,
            };
            let (lo, hi) = stat_bounds(stats, ty, unit.as_ref()).unzip();
            match lo {
                Some(lo) => merge_bound(&mut lower, field_id, lo, Ordering::Less),
                None => {
                    no_lower.insert(field_id);
                }
            }
            match hi.flatten() {
                Some(hi) => merge_bound(&mut upper, field_id, hi, Ordering::Greater),
                None => {
                    no_upper.insert(field_id);
                }
            }
        }
    }
    lower.retain(|id, _| !no_lower.contains(id));
    upper.retain(|id, _| !no_upper.contains(id));

    let mut builder = DataFileBuilder::default();
    builder
        .content(DataContentType::Data)
        .file_path(path.to_owned())
        .file_format(DataFileFormat::Parquet)
        .partition(partition)
        .partition_spec_id(spec_id)
        .record_count(metadata.file_metadata().num_rows().max(0) as u64)
        .file_size_in_bytes(size)
        .column_sizes(column_sizes)
        .value_counts(value_counts)
        .null_value_counts(null_counts)
        .lower_bounds(lower)
        .upper_bounds(upper)
        .split_offsets(Some(
            metadata
                .row_groups()
                .iter()
                .filter_map(|g| g.file_offset())
                .collect(),
        ));
    builder
        .build()
        .map_err(|e| Error::internal(format!("cannot describe data file {path}: {e}")))
}

fn merge_bound(map: &mut HashMap<i32, Datum>, id: i32, value: Datum, keep: Ordering) {
    match map.get(&id) {
        Some(current) if value.partial_cmp(current) != Some(keep) => {}
        _ => {
            map.insert(id, value);
        }
    }
}

/// Lower and (when safe) upper bound of a column chunk as Iceberg values.
fn stat_bounds(
    stats: &Statistics,
    ty: &PrimitiveType,
    unit: Option<&TimeUnit>,
) -> Option<(Datum, Option<Datum>)> {
    let micros = |v: i64| -> i64 {
        match unit {
            Some(TimeUnit::MILLIS) => v.saturating_mul(1000),
            Some(TimeUnit::NANOS) => v.div_euclid(1000),
            _ => v,
        }
    };
    let both = |lo: Option<Datum>, hi: Option<Datum>| Some((lo?, Some(hi?)));
    match (stats, ty) {
        (Statistics::Boolean(s), PrimitiveType::Boolean) => both(
            s.min_opt().map(|v| Datum::bool(*v)),
            s.max_opt().map(|v| Datum::bool(*v)),
        ),
        (Statistics::Int32(s), PrimitiveType::Int) => both(
            s.min_opt().map(|v| Datum::int(*v)),
            s.max_opt().map(|v| Datum::int(*v)),
        ),
        (Statistics::Int32(s), PrimitiveType::Long) => both(
            s.min_opt().map(|v| Datum::long(i64::from(*v))),
            s.max_opt().map(|v| Datum::long(i64::from(*v))),
        ),
        (Statistics::Int64(s), PrimitiveType::Long) => both(
            s.min_opt().map(|v| Datum::long(*v)),
            s.max_opt().map(|v| Datum::long(*v)),
        ),
        (Statistics::Float(s), PrimitiveType::Float) => {
            let (lo, hi) = (*s.min_opt()?, *s.max_opt()?);
            (!lo.is_nan() && !hi.is_nan()).then(|| (Datum::float(lo), Some(Datum::float(hi))))
        }
        (Statistics::Double(s), PrimitiveType::Double) => {
            let (lo, hi) = (*s.min_opt()?, *s.max_opt()?);
            (!lo.is_nan() && !hi.is_nan()).then(|| (Datum::double(lo), Some(Datum::double(hi))))
        }
        (Statistics::Int32(s), PrimitiveType::Date) => both(
            s.min_opt().map(|v| Datum::date(*v)),
            s.max_opt().map(|v| Datum::date(*v)),
        ),
        (Statistics::Int64(s), PrimitiveType::Time) => both(
            s.min_opt()
                .and_then(|v| Datum::time_micros(micros(*v)).ok()),
            s.max_opt()
                .and_then(|v| Datum::time_micros(micros(*v)).ok()),
        ),
        (Statistics::Int64(s), PrimitiveType::Timestamp) => both(
            s.min_opt().map(|v| Datum::timestamp_micros(micros(*v))),
            s.max_opt().map(|v| Datum::timestamp_micros(micros(*v))),
        ),
        (Statistics::Int64(s), PrimitiveType::Timestamptz) => both(
            s.min_opt().map(|v| Datum::timestamptz_micros(micros(*v))),
            s.max_opt().map(|v| Datum::timestamptz_micros(micros(*v))),
        ),
        (Statistics::ByteArray(s), PrimitiveType::String) => {
            let lo = std::str::from_utf8(s.min_opt()?.data()).ok()?;
            let hi = std::str::from_utf8(s.max_opt()?.data()).ok()?;
            let lo: String = lo.chars().take(STRING_BOUND_CHARS).collect();
            let hi = (hi.chars().count() <= STRING_BOUND_CHARS).then(|| Datum::string(hi));
            Some((Datum::string(lo), hi))
        }
        (Statistics::FixedLenByteArray(s), PrimitiveType::Uuid) => {
            let lo = uuid::Uuid::from_slice(s.min_opt()?.data()).ok()?;
            let hi = uuid::Uuid::from_slice(s.max_opt()?.data()).ok()?;
            Some((Datum::uuid(lo), Some(Datum::uuid(hi))))
        }
        (Statistics::Int32(s), PrimitiveType::Decimal { .. }) => both(
            s.min_opt().and_then(|v| decimal(i128::from(*v), ty)),
            s.max_opt().and_then(|v| decimal(i128::from(*v), ty)),
        ),
        (Statistics::Int64(s), PrimitiveType::Decimal { .. }) => both(
            s.min_opt().and_then(|v| decimal(i128::from(*v), ty)),
            s.max_opt().and_then(|v| decimal(i128::from(*v), ty)),
        ),
        (Statistics::FixedLenByteArray(s), PrimitiveType::Decimal { .. }) => both(
            s.min_opt().and_then(|v| decimal(be_to_i128(v.data())?, ty)),
            s.max_opt().and_then(|v| decimal(be_to_i128(v.data())?, ty)),
        ),
        _ => None,
    }
}

/// An unscaled decimal as an Iceberg value, through Iceberg's single-value
/// binary form (big-endian two's complement, minimal length).
fn decimal(unscaled: i128, ty: &PrimitiveType) -> Option<Datum> {
    let bytes = unscaled.to_be_bytes();
    let mut start = 0;
    while start < 15 {
        let redundant = (bytes[start] == 0x00 && bytes[start + 1] & 0x80 == 0)
            || (bytes[start] == 0xff && bytes[start + 1] & 0x80 != 0);
        if !redundant {
            break;
        }
        start += 1;
    }
    Datum::try_from_bytes(&bytes[start..], ty.clone()).ok()
}

fn be_to_i128(bytes: &[u8]) -> Option<i128> {
    if bytes.is_empty() || bytes.len() > 16 {
        return None;
    }
    let fill = if bytes[0] & 0x80 != 0 { 0xff } else { 0x00 };
    let mut buf = [fill; 16];
    buf[16 - bytes.len()..].copy_from_slice(bytes);
    Some(i128::from_be_bytes(buf))
}

fn io_error(path: &str, err: iceberg::Error) -> Error {
    Error::new(ErrorKind::Storage, "cannot read data file")
        .with_context("file", path)
        .with_source(err)
}

fn footer_error(path: &str, err: ParquetError) -> Error {
    Error::new(ErrorKind::Storage, "cannot read Parquet footer")
        .with_context("file", path)
        .with_source(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_bounds_round_trip() {
        let ty = PrimitiveType::Decimal {
            precision: 30,
            scale: 2,
        };
        for v in [0i128, 1, -1, 127, 128, -129, 123_456_789_012_345_678] {
            let d = decimal(v, &ty).unwrap();
            let back = be_to_i128(&d.to_bytes().unwrap()).unwrap();
            assert_eq!(back, v);
        }
    }
}
