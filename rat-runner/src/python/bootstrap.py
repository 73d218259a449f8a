"""rat's bootstrap for Python pipelines (rat's own code, run by the rat engine).

Three jobs, chosen by the first argument:

  deps  Reads {"scripts": [{"file", "source"}]} as JSON on stdin and writes, for
        each script, the literal ref() / landing_zone() arguments it calls, or
        the syntax or dynamic-ref error with its line. Standard library only
        (ast), so planning never pays for importing pyarrow.
  run   Imports pyarrow and duckdb (a warm worker does so before it is
        needed) and says so (rat-ready), then reads the run's context as
        one line of JSON on stdin (later lines renew its S3 access), builds
        the pipeline's globals (pa, duckdb_conn, ref, landing_zone, this,
        run_started_at, is_incremental, watermark_value, config, log), runs
        the script and streams `result` to stdout as an Arrow IPC stream.
        The script's own output (print, logging, log) goes to stderr, one
        line per message.
  serve FOLDER
        A server's warm worker: the imports of run, then waits in FOLDER
        for a runner to connect, and does run over that connection.

Messages for rat on stderr start with the unit separator (\\x1f): rat-ready
says the imports are done, rat-log lines carry a level, one rat-error line
carries the failure as JSON.
"""

import ast
import json
import linecache
import logging
import os
import sys
import threading
import traceback

MARK = "\x1f"
CALLS = ("ref", "landing_zone")


def find_calls(file, source):
    """The literal arguments of ref() / landing_zone() in one script."""
    try:
        tree = ast.parse(source, filename=file)
    except SyntaxError as e:
        return {"error": {"message": f"syntax error: {e.msg}", "line": e.lineno}}
    found = {"refs": [], "landing_zones": []}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
            continue
        name = node.func.id
        if name not in CALLS:
            continue
        args = node.args
        literal = (
            len(args) == 1
            and not node.keywords
            and isinstance(args[0], ast.Constant)
            and isinstance(args[0].value, str)
        )
        if not literal:
            example = "ref('silver.orders')" if name == "ref" else "landing_zone('uploads')"
            return {
                "error": {
                    "message": f"{name}() takes one literal name, like {example}: "
                    "rat finds a pipeline's inputs before it runs, so the name cannot be computed",
                    "line": node.lineno,
                }
            }
        key = "refs" if name == "ref" else "landing_zones"
        found[key].append({"name": args[0].value, "line": node.lineno})
    return found


def deps():
    request = json.load(sys.stdin)
    out = [find_calls(s["file"], s["source"]) for s in request["scripts"]]
    json.dump(out, sys.stdout)


def tell(kind, payload):
    sys.stderr.write(f"{MARK}rat-{kind}{MARK}{payload}\n")
    sys.stderr.flush()


def fail(message, kind="script", line=None, trace=None):
    tell("error", json.dumps({"kind": kind, "message": message, "line": line, "traceback": trace}))
    finish(1)


def finish(code):
    """Ends the process once its output is out, without the interpreter's
    teardown (a tenth of a second with pyarrow, duckdb and pandas loaded,
    which the run would wait for), as multiprocessing's workers do."""
    try:
        sys.stderr.flush()
    finally:
        os._exit(code)


class RatLogHandler(logging.Handler):
    """A logging handler whose lines reach the run's log with their level."""

    def emit(self, record):
        try:
            text = self.format(record).replace("\n", " | ")
            tell("log", f"{record.levelname}{MARK}{text}")
        except Exception:  # a log line must never fail the run
            pass


def script_line(file, tb):
    """The line of the pipeline script where an exception passed last."""
    line = None
    for frame in traceback.extract_tb(tb):
        if frame.filename == file:
            line = frame.lineno
    return line


def fail_with_traceback(message, file, error):
    """Fails with the traceback from the script's first frame on (the
    bootstrap's own frames are not the user's concern)."""
    tb = error.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != file:
        tb = tb.tb_next
    trace = "".join(traceback.format_exception(type(error), error, tb or error.__traceback__))
    fail(message, line=script_line(file, error.__traceback__), trace=trace)


def as_reader(pa, result, duckdb):
    """`result` as a RecordBatchReader, or a failure naming what it is."""
    if isinstance(result, pa.RecordBatchReader):
        return result
    if isinstance(result, pa.Table):
        return pa.RecordBatchReader.from_batches(result.schema, result.to_batches())
    if isinstance(result, duckdb.DuckDBPyRelation):
        return result.to_arrow_reader() if hasattr(result, "to_arrow_reader") else result.fetch_record_batch()
    pandas = sys.modules.get("pandas")
    if pandas is not None and isinstance(result, pandas.DataFrame):
        table = pa.Table.from_pandas(result, preserve_index=False)
        return pa.RecordBatchReader.from_batches(table.schema, table.to_batches())
    kind = type(result)
    name = kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
    fail(
        "`result` must be a pyarrow.Table, a pyarrow.RecordBatchReader, a DuckDB relation "
        f"or a pandas DataFrame, not {name}",
        kind="result",
    )


def follow_renewals(lines, cursor):
    """Applies the renewed S3 access rat sends while the script runs, one
    JSON line each, on a connection of its own to the script's database
    (secrets are the database's), so a long script never outlives its
    credentials."""
    for line in lines:
        try:
            cursor.execute(json.loads(line)["access_sql"])
            tell("log", f"INFO{MARK}the script's S3 access was renewed before its credentials expire")
        except Exception as e:  # its text holds credentials: not repeated
            tell("log", f"WARNING{MARK}cannot renew the script's S3 access ({type(e).__name__})")


def import_all():
    """Imports what scripts use; the names of the modules missing."""
    missing = []
    for module in ("pyarrow", "duckdb"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    # pyarrow imports pandas (when installed) the first time a script
    # builds a table from Python objects, which costs about as much as
    # pyarrow's own import: paid here too, ahead of the script.
    try:
        import pandas  # noqa: F401
    except ImportError:
        pass
    return missing


def run():
    # The Arrow stream owns stdout; everything the script prints, even from
    # C code, goes to stderr and so to the run's log.
    result_out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    # Imported before the context arrives: a warm worker has paid for them
    # by the time a run hands it a script.
    missing = import_all()
    # The pool hands out workers that said this first.
    tell("ready", "")
    context = json.loads(sys.stdin.readline())
    if missing:
        fail(
            f"{sys.executable} cannot import {' and '.join(missing)}: install with "
            f"`{sys.executable} -m pip install {' '.join(missing)}`, or point RAT_PYTHON "
            "(python: in rat.yaml) at an interpreter that has them",
            kind="environment",
        )
    import duckdb
    import pyarrow as pa

    if context.get("address_space_limit"):
        import resource

        limit = context["address_space_limit"]
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    handler = RatLogHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    log = logging.getLogger("pipeline")

    file = context["file"]
    settings = context.get("duckdb", {})
    config = {"threads": settings.get("threads")} if settings.get("threads") else {}
    conn = duckdb.connect(config=config)
    if settings.get("memory_limit"):
        conn.execute(f"SET memory_limit = '{settings['memory_limit']}'")
    if context.get("access_sql"):
        try:
            conn.execute(context["access_sql"])
        except Exception as e:  # its text holds credentials: not repeated
            fail(f"cannot give the script's DuckDB the run's S3 access ({type(e).__name__})", kind="setup")
        threading.Thread(target=follow_renewals, args=(sys.stdin, conn.cursor()), daemon=True).start()
    # The script reads no input of rat's.
    sys.stdin = open(os.devnull)
    if context.get("views_sql"):
        try:
            conn.execute(context["views_sql"])
        except Exception as e:
            fail(f"cannot open the run's tables in the script's DuckDB: {e}", kind="setup")
    refs = context.get("refs", {})
    zones = context.get("landing_zones", {})

    def ref(name):
        if name not in refs:
            raise NameError(f"ref('{name}') was not found when this script was planned")
        return refs[name]

    def landing_zone(name):
        if name not in zones:
            raise NameError(f"landing_zone('{name}') was not found when this script was planned")
        return zones[name]

    scope = {
        "__name__": "__main__",
        "__file__": file,
        "pa": pa,
        "duckdb_conn": conn,
        "ref": ref,
        "landing_zone": landing_zone,
        "this": context["this"],
        "run_started_at": context["run_started_at"],
        "is_incremental": context["is_incremental"],
        "watermark_value": context.get("watermark_value"),
        "config": context.get("config", {}),
        "log": log,
    }
    source = context["source"]
    # Tracebacks quote the script's lines although it is not a file here.
    linecache.cache[file] = (len(source), None, source.splitlines(True), file)
    try:
        code = compile(source, file, "exec")
        exec(code, scope)
    except SyntaxError as e:
        fail(f"syntax error: {e.msg}", line=e.lineno)
    except BaseException as e:  # SystemExit included: the script must set result
        fail_with_traceback(f"{type(e).__name__}: {e}", file, e)
    if "result" not in scope:
        fail("the script did not set `result` (a pyarrow.Table, for example)", kind="result")
    try:
        reader = as_reader(pa, scope["result"], duckdb)
        with pa.ipc.new_stream(result_out, reader.schema) as writer:
            for batch in reader:
                writer.write_batch(batch)
        result_out.close()
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
        tell("log", f"INFO{MARK}the script's process peaked at {peak} MiB resident")
    except BrokenPipeError:
        finish(1)  # rat stopped reading: the run was cancelled
    except Exception as e:
        fail_with_traceback(f"producing `result` failed: {type(e).__name__}: {e}", file, e)
    finish(0)


def serve(folder):
    """A server's warm worker: imports, then waits in `folder` (its own,
    private) for the one runner that claims it. `ready` holds the pid once
    the imports are done; the runner connects three times to `sock`, and
    the connections become stdin, stdout and stderr of `run`."""
    import socket

    import_all()  # run names what is missing
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind("sock")  # relative: socket paths are short, folders may not be
    listener.listen(3)
    with open("ready.tmp", "w") as f:
        f.write(str(os.getpid()))
    os.rename("ready.tmp", "ready")
    tell("ready", "")
    streams = [listener.accept()[0] for _ in range(3)]
    listener.close()
    for fd, stream in enumerate(streams):
        os.dup2(stream.fileno(), fd)
        stream.close()
    run()


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(sys.argv[2])
    else:
        {"deps": deps, "run": run}[sys.argv[1]]()
