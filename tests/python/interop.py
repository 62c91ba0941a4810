"""The output files in pandas, DuckDB and polars, with the documented types; and the CDF
rebuilt from histograms.parquet against the percentiles in summary.parquet.

usage: python interop.py RUN_DIR
"""
import math
import sys

import duckdb
import pandas as pd
import polars as pl


def check_pandas(run):
    summary = pd.read_parquet(f"{run}/summary.parquet", dtype_backend="pyarrow")
    histograms = pd.read_parquet(f"{run}/histograms.parquet")
    types = {c: str(t) for c, t in summary.dtypes.items()}
    expected = {
        "cell_id": "uint32[pyarrow]", "nodes": "uint32[pyarrow]", "crash": "double[pyarrow]",
        "trials": "uint64[pyarrow]", "successes": "uint64[pyarrow]", "success_rate": "double[pyarrow]",
        "latency_ms_p99": "double[pyarrow]", "messages_max": "uint64[pyarrow]",
    }
    for column, dtype in expected.items():
        assert types[column] == dtype, (column, types[column], dtype)
    assert types["protocol"].startswith("dictionary<values=string"), types["protocol"]
    assert str(histograms.metric.dtype) == "category", histograms.metric.dtype
    assert str(histograms["count"].dtype) == "uint64"
    assert (summary.successes + summary.failures + summary.blocked == summary.trials).all()
    return len(summary), len(histograms)


def check_duckdb(run, rows):
    con = duckdb.connect()
    described = con.sql(f"DESCRIBE SELECT * FROM '{run}/summary.parquet'").fetchall()
    assert len(described) == rows["columns"]
    types = {row[0]: row[1] for row in described}
    assert types["cell_id"] == "UINTEGER" and types["protocol"] == "VARCHAR", types
    assert types["trials"] == "UBIGINT" and types["latency_ms_p50"] == "DOUBLE", types
    both = con.sql(f"SELECT count(*) FROM read_parquet('{run}/*.parquet', union_by_name = true)").fetchall()[0][0]
    assert both == rows["summary"] + rows["histograms"], (both, rows)
    joined = con.sql(f"""
        SELECT s.protocol, sum(h.count) AS trials
        FROM '{run}/summary.parquet' s JOIN '{run}/histograms.parquet' h USING (cell_id)
        WHERE h.metric = 'messages' GROUP BY s.protocol
    """).fetchall()
    assert joined and all(t > 0 for _, t in joined)


def check_polars(run, rows):
    summary = pl.read_parquet(f"{run}/summary.parquet")
    histograms = pl.read_parquet(f"{run}/histograms.parquet")
    assert summary.height == rows["summary"] and histograms.height == rows["histograms"]
    assert summary.schema["cell_id"] == pl.UInt32 and summary.schema["trials"] == pl.UInt64
    assert summary.schema["protocol"] in (pl.Categorical, pl.Enum, pl.String) or isinstance(summary.schema["protocol"], pl.Categorical), summary.schema["protocol"]
    assert histograms.schema["bucket_high"] == pl.Float64


def check_cdf(run):
    """Each summary percentile is the first histogram bucket whose cumulative count reaches
    ceil(q * total): the CDF rebuilt from the buckets passes through it exactly."""
    con = duckdb.connect()
    summary = con.sql(f"SELECT * FROM '{run}/summary.parquet'").df()
    buckets = con.sql(f"SELECT cell_id, metric, bucket_high, count FROM '{run}/histograms.parquet' ORDER BY cell_id, metric, bucket_high").df()
    groups = {key: g for key, g in buckets.groupby(["cell_id", "metric"])}
    checked = 0
    for _, cell in summary.iterrows():
        checks = [("messages", 0.99, "messages_p99")]
        if cell.successes > 0:
            checks += [("latency_ms", q, c) for q, c in
                       [(0.5, "latency_ms_p50"), (0.9, "latency_ms_p90"), (0.99, "latency_ms_p99"), (0.999, "latency_ms_p999")]]
        for metric, q, column in checks:
            g = groups[(cell.cell_id, metric)]
            total = int(g["count"].sum())
            target = max(1, math.ceil(q * total))
            cumulative = g["count"].cumsum().to_numpy()
            high = g.bucket_high.to_numpy()[(cumulative >= target).argmax()]
            assert high == cell[column], (cell.cell_id, column, high, cell[column])
            checked += 1
    return checked


def main(run):
    summary_rows, histogram_rows = check_pandas(run)
    columns = len(pd.read_parquet(f"{run}/summary.parquet").columns)
    rows = {"summary": summary_rows, "histograms": histogram_rows, "columns": columns}
    check_duckdb(run, rows)
    check_polars(run, rows)
    checked = check_cdf(run)
    print(f"ok: {run}: pandas, DuckDB and polars read {summary_rows} cells and {histogram_rows} buckets; {checked} percentiles match their CDFs")


if __name__ == "__main__":
    main(sys.argv[1])
