//! A script's `result`, an Arrow IPC stream, loaded into the run's DuckDB
//! session as a temporary table, batch by batch (DuckDB spills it past its
//! memory limit), so the rest of the run reads it like a SQL result.
//!
//! The stream reaches DuckDB through a table function, `rat_python_result`,
//! that pulls the next batch only when DuckDB asks for rows: the whole
//! result is never held in memory at once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use arrow_array::RecordBatch;
use arrow_ipc::reader::StreamReader;
use duckdb::Connection;
use duckdb::core::{DataChunkHandle, LogicalTypeHandle, LogicalTypeId};
use duckdb::vtab::{
    BindInfo, InitInfo, TableFunctionInfo, VTab, record_batch_to_duckdb_data_chunk,
    to_duckdb_logical_type_for_field,
};
use rat_core::{Error, ErrorKind, Result};

use crate::duck::{DuckSession, duck_error};

/// The temporary table holding the result.
pub(crate) const RESULT_TABLE: &str = "temp.main.__rat_python_result";

/// Rows per DuckDB data chunk (its `STANDARD_VECTOR_SIZE`).
const VECTOR_SIZE: usize = 2048;

/// The table function reading streams registered here.
const FUNCTION: &str = "rat_python_result";

type Stream = StreamReader<std::io::BufReader<Box<dyn std::io::Read + Send>>>;

/// Streams being loaded, by id: a table function's parameters are values,
/// so the stream is found by a number, and removed when its load ends.
fn streams() -> &'static Mutex<HashMap<u64, Arc<Mutex<Stream>>>> {
    static STREAMS: OnceLock<Mutex<HashMap<u64, Arc<Mutex<Stream>>>>> = OnceLock::new();
    STREAMS.get_or_init(Default::default)
}

/// Removes its stream from the registry however the load ends.
struct Registered(u64);

impl Drop for Registered {
    fn drop(&mut self) {
        streams().lock().expect("stream registry").remove(&self.0);
    }
}

/// Loads the IPC stream read from `pipe` into [`RESULT_TABLE`]; the rows
/// loaded.
pub(super) async fn load(
    session: &DuckSession,
    pipe: Box<dyn std::io::Read + Send>,
) -> Result<u64> {
    session
        .run(move |conn| {
            let reader = StreamReader::try_new_buffered(pipe, None).map_err(|e| {
                Error::new(
                    ErrorKind::InvalidInput,
                    format!("the script's result is not an Arrow stream: {e}"),
                )
            })?;
            load_stream(conn, reader)
        })
        .await
}

fn load_stream(conn: &Connection, reader: Stream) -> Result<u64> {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    streams()
        .lock()
        .expect("stream registry")
        .insert(id, Arc::new(Mutex::new(reader)));
    let _registered = Registered(id);
    conn.register_table_function::<ResultScan>(FUNCTION)
        .map_err(|e| duck_error("cannot read the script's result", e))?;
    conn.execute_batch(&format!(
        "CREATE OR REPLACE TEMP TABLE __rat_python_result AS SELECT * FROM {FUNCTION}({id}::UBIGINT)"
    ))
    .map_err(|e| duck_error("cannot load the script's result", e))?;
    conn.query_row(&format!("SELECT count(*) FROM {RESULT_TABLE}"), [], |r| {
        r.get::<_, i64>(0)
    })
    .map(|n| n as u64)
    .map_err(|e| duck_error("cannot count the script's result", e))
}

/// The table function over one registered stream.
struct ResultScan;

struct ScanBind {
    stream: Arc<Mutex<Stream>>,
}

/// The batch being handed out and how far.
#[derive(Default)]
struct ScanState {
    current: Mutex<Option<(RecordBatch, usize)>>,
}

impl VTab for ResultScan {
    type BindData = ScanBind;
    type InitData = ScanState;

    fn bind(bind: &BindInfo) -> std::result::Result<ScanBind, Box<dyn std::error::Error>> {
        let id = bind.get_parameter(0).to_uint64();
        let stream = streams()
            .lock()
            .map_err(|_| "stream registry poisoned")?
            .get(&id)
            .cloned()
            .ok_or("no such result stream")?;
        let schema = stream.lock().map_err(|_| "stream poisoned")?.schema();
        for field in schema.fields() {
            let ty = to_duckdb_logical_type_for_field(field).map_err(|e| {
                format!("column '{}' has a type rat cannot load: {e}", field.name())
            })?;
            bind.add_result_column(field.name(), ty);
        }
        Ok(ScanBind { stream })
    }

    fn init(_: &InitInfo) -> std::result::Result<ScanState, Box<dyn std::error::Error>> {
        Ok(ScanState::default())
    }

    fn func(
        func: &TableFunctionInfo<Self>,
        output: &mut DataChunkHandle,
    ) -> std::result::Result<(), Box<dyn std::error::Error>> {
        let mut current = func
            .get_init_data()
            .current
            .lock()
            .map_err(|_| "scan poisoned")?;
        loop {
            if let Some((batch, offset)) = current.as_mut()
                && *offset < batch.num_rows()
            {
                let len = VECTOR_SIZE.min(batch.num_rows() - *offset);
                record_batch_to_duckdb_data_chunk(&batch.slice(*offset, len), output)?;
                *offset += len;
                return Ok(());
            }
            let next = func
                .get_bind_data()
                .stream
                .lock()
                .map_err(|_| "stream poisoned")?
                .next();
            match next {
                Some(batch) => *current = Some((batch?, 0)),
                None => {
                    output.set_len(0);
                    return Ok(());
                }
            }
        }
    }

    fn parameters() -> Option<Vec<LogicalTypeHandle>> {
        Some(vec![LogicalTypeHandle::from(LogicalTypeId::UBigint)])
    }
}
