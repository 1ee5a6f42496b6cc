"""Drives psycopg 3 (Debian's python3-psycopg) through the gateway.

Connection settings come from the libpq environment (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE,
PGSSLMODE). Each check prints one line that the jest test asserts on; any failure exits non-zero with a
traceback.
"""

import datetime
import decimal
import logging
import sys
import threading
import time

import psycopg
from psycopg import errors


def check_connection(conn):
    print(f"ssl in_use={conn.pgconn.ssl_in_use} status={conn.info.status.name}")


def check_parameters(conn):
    # Server-side binding: the values travel as Bind parameters, not spliced into the text.
    row = conn.execute(
        "SELECT %s::int + %s::int, %s::text || '!', %s::numeric * 2, %s::date + 1",
        (40, 2, "grüße", decimal.Decimal("0.1"), datetime.date(2024, 2, 28)),
    ).fetchone()
    print(f"params sum={row[0]} text={row[1]} numeric={row[2]} date={row[3].isoformat()}")
    # prepare=True makes psycopg name the statement on the server.
    for i in range(3):
        conn.execute("SELECT %s::int AS n", (i,), prepare=True)
    prepared = conn.execute("SELECT count(*) FROM pg_prepared_statements WHERE name LIKE '\\_pg3\\_%'").fetchone()[0]
    print(f"prepared named={prepared > 0}")


def check_executemany(conn):
    conn.execute("CREATE TEMP TABLE many(id int PRIMARY KEY, label text)")
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO many VALUES (%s, %s)", [(i, f"label {i}") for i in range(1000)])
    count, total = conn.execute("SELECT count(*), sum(id) FROM many").fetchone()
    print(f"executemany rows={count} sum={total}")


def check_binary(conn):
    with conn.cursor(binary=True) as cur:
        cur.execute(
            "SELECT %s::int8, %s::bytea, %s::numeric, %s::timestamptz, %s::float8, ARRAY[1, 2, 3]::int4[]",
            (2**62 + 1, bytes(range(256)), decimal.Decimal("-123456789.000001"),
             datetime.datetime(2024, 2, 29, 23, 59, 59, 123456, tzinfo=datetime.timezone.utc), 0.5),
        )
        big, blob, num, ts, flt, arr = cur.fetchone()
        formats = {cur.pgresult.fformat(i) for i in range(cur.pgresult.nfields)}
    print(
        f"binary formats={sorted(formats)} int8={big} bytea={blob == bytes(range(256))} numeric={num} "
        f"timestamptz={ts.astimezone(datetime.timezone.utc).isoformat()} float8={flt} array={arr}"
    )


def check_copy(conn):
    conn.execute("CREATE TEMP TABLE copied(id int, name text, note text)")
    with conn.cursor() as cur:
        with cur.copy("COPY copied FROM STDIN") as copy:
            for i in range(5000):
                copy.write_row((i, f"name\t{i}", None if i % 4 == 0 else f"note {i}"))
        rows_in = conn.execute("SELECT count(*), count(*) FILTER (WHERE note IS NULL) FROM copied").fetchone()
        rows_out = []
        with cur.copy("COPY (SELECT id, name, note FROM copied ORDER BY id) TO STDOUT") as copy:
            copy.set_types(["int4", "text", "text"])
            for row in copy.rows():
                rows_out.append(row)
        with cur.copy("COPY (SELECT id FROM copied) TO STDOUT (FORMAT binary)") as copy:
            binary_bytes = sum(len(chunk) for chunk in copy)
    print(
        f"copy in={rows_in[0]} nulls={rows_in[1]} out={len(rows_out)} "
        f"last={rows_out[-1]!r} binary={binary_bytes > 0}"
    )


def check_error_recovery(conn):
    conn.execute("CREATE TEMP TABLE recover(x int)")
    conn.commit()
    conn.execute("INSERT INTO recover VALUES (1)")
    first = second = "none"
    try:
        conn.execute("SELECT 1/0")
    except errors.DivisionByZero as e:
        first = e.sqlstate
    try:
        conn.execute("SELECT 1")
    except errors.InFailedSqlTransaction as e:
        second = e.sqlstate
    conn.rollback()
    kept = conn.execute("SELECT count(*) FROM recover").fetchone()[0]
    conn.commit()
    print(f"error first={first} then={second} kept={kept}")


def check_pipeline(conn):
    conn.autocommit = True
    try:
        conn.execute("CREATE TEMP TABLE piped(x int)")
        with conn.pipeline():
            cursors = [conn.execute("SELECT %s::int * 10", (i,)) for i in range(50)]
            conn.execute("INSERT INTO piped SELECT generate_series(1, 5)")
        values = [c.fetchone()[0] for c in cursors]
        print(f"pipeline results={len(values)} last={values[-1]} sum={sum(values)}")

        # An error skips the rest of its sync group only: the group synced before it is committed, and the
        # connection leaves pipeline mode usable. (psycopg may report the error from any call after it.)
        failed = "none"
        try:
            with conn.pipeline() as p:
                conn.execute("INSERT INTO piped VALUES (100)")
                p.sync()
                conn.execute("SELECT 1/0")
                conn.execute("INSERT INTO piped VALUES (200)")
        except errors.DivisionByZero as e:
            failed = e.sqlstate
        conn.execute("INSERT INTO piped VALUES (300)")
        count, values = conn.execute("SELECT count(*), string_agg(x::text, ',' ORDER BY x) FROM piped").fetchone()
        print(f"pipeline error={failed} rows={count} values={values}")
    finally:
        conn.autocommit = False


def check_cancel(conn):
    conn.autocommit = True
    timer = threading.Timer(0.5, conn.cancel)
    started = time.monotonic()
    outcome = "none"
    timer.start()
    try:
        conn.execute("SELECT pg_sleep(10)")
    except errors.QueryCanceled as e:
        outcome = e.sqlstate
    finally:
        timer.join()
    elapsed = time.monotonic() - started
    after = conn.execute("SELECT 'usable'").fetchone()[0]
    print(f"cancel sqlstate={outcome} within5s={elapsed < 5} after={after}")


def main():
    # psycopg logs "error ignored terminating <Pipeline>" when the error surfaces while the block unwinds.
    logging.getLogger("psycopg").addHandler(logging.NullHandler())
    with psycopg.connect(connect_timeout=10, application_name="gatehouse-psycopg-test") as conn:
        for check in (check_connection, check_parameters, check_executemany, check_binary, check_copy,
                      check_error_recovery, check_pipeline, check_cancel):
            check(conn)
            if not conn.autocommit:
                conn.commit()
    print("done")


if __name__ == "__main__":
    main()
    sys.stdout.flush()
