"""coordsim against the programs a user would otherwise write, side by side in one go.

usage: python benches/compare_peers.py PEERS_DIR [--runs 5] [--out results.json]

PEERS_DIR holds peer_numpy.py, peer_simpy.py and peer_numpy_dense.py (vectorized NumPy and
SimPy versions of the reference models; they need numpy and simpy, and this script pyarrow).
For each reference model this runs, interleaved, `runs` times each: coordsim on its sweep in
sweeps/bench/ with one thread and with every core, the NumPy peer, and (for the quorum) the
SimPy peer; then it prints the medians. Last, the wide sweep: the 800 small cells of
peer_numpy_dense.py (sweeps/bench/wide.toml), coordsim and the NumPy peer each on one thread,
both timed as whole processes (and the peer also by its own loop).

What is timed:
- coordsim: trials over the wall time of the whole process (start-up, parsing, building the
  samplers' tables, every trial, writing the Parquet files), measured around the process;
  also the summary's trials_per_s (thread time spent in the cell).
- the peers: trials over the time of their own loops, as they report it (interpreter start-up
  and imports excluded, which favours them).
Parallel efficiency = all-core throughput / (cores x one-thread throughput), both wall time.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import pyarrow.parquet as pq

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COORDSIM = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")),
                        "release", "coordsim")


def coordsim(sweep, threads):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "run")
        start = time.perf_counter()
        subprocess.run(
            [COORDSIM, "run", os.path.join(ROOT, "sweeps", "bench", sweep), "--out", out,
             "--threads", str(threads), "--quiet"],
            check=True, capture_output=True, text=True)
        wall = time.perf_counter() - start
        row = pq.read_table(os.path.join(out, "summary.parquet")).to_pylist()[0]
        return {"wall": row["trials"] / wall, "thread": row["trials_per_s"],
                "success": row["success_rate"], "p50": row["latency_ms_p50"],
                "p99": row["latency_ms_p99"], "rounds": row["rounds_mean"],
                "sampler": row["sampler"]}


def peer(script, args):
    result = subprocess.run([sys.executable, script, *args], check=True, capture_output=True,
                            text=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def median(runs, key):
    return statistics.median(r[key] for r in runs)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("peers")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", help="also write the lines to this JSON file")
    a = parser.parse_args()
    numpy_peer = os.path.join(a.peers, "peer_numpy.py")
    simpy_peer = os.path.join(a.peers, "peer_simpy.py")
    cores = os.cpu_count()
    models = [
        ("quorum", "quorum.toml", ["quorum", "--trials", "2000000"], True),
        ("2pc", "2pc.toml", ["2pc", "--n", "10", "--trials", "1000000"], False),
        ("gossip", "gossip.toml", ["gossip", "--n", "1000", "--trials", "2000"], False),
    ]
    print(f"{cores} cores, {a.runs} runs each (interleaved), medians", flush=True)
    lines = []
    for name, sweep, numpy_args, with_simpy in models:
        one, every, numpy, simpy = [], [], [], []
        for _ in range(a.runs):
            one.append(coordsim(sweep, 1))
            every.append(coordsim(sweep, cores))
            numpy.append(peer(numpy_peer, numpy_args))
            if with_simpy:
                simpy.append(peer(simpy_peer, ["--trials", "20000"]))
        one_wall, all_wall = median(one, "wall"), median(every, "wall")
        numpy_rate = median(numpy, "trials_per_s")
        line = {
            "model": name,
            "sampler": one[0]["sampler"],
            "coordsim_1_thread_trials_per_s": round(one_wall),
            "coordsim_1_thread_in_cell_trials_per_s": round(median(one, "thread")),
            f"coordsim_{cores}_threads_trials_per_s": round(all_wall),
            "numpy_trials_per_s": round(numpy_rate),
            "ratio_1_thread_vs_numpy": round(one_wall / numpy_rate, 2),
            "parallel_efficiency": round(all_wall / (cores * one_wall), 3),
            "coordsim_success": one[0]["success"], "numpy_success": numpy[0]["success"],
            "coordsim_p50_ms": one[0]["p50"], "numpy_p50": numpy[0]["p50"],
            "coordsim_p99_ms": one[0]["p99"], "numpy_p99": numpy[0]["p99"],
        }
        if name == "gossip":
            line["coordsim_mean_rounds"] = one[0]["rounds"]
            line["numpy_mean_rounds"] = numpy[0]["mean"]
        if with_simpy:
            simpy_rate = median(simpy, "trials_per_s")
            line["simpy_trials_per_s"] = round(simpy_rate)
            line["ratio_1_thread_vs_simpy"] = round(one_wall / simpy_rate, 1)
        print(json.dumps(line), flush=True)
        lines.append(line)
    lines.append(wide(os.path.join(a.peers, "peer_numpy_dense.py"), a.runs))
    print(json.dumps(lines[-1]), flush=True)
    if a.out:
        with open(a.out, "w") as f:
            json.dump(lines, f, indent=1)


def timed(command, env=None):
    start = time.perf_counter()
    result = subprocess.run(command, check=True, capture_output=True, text=True, env=env)
    return time.perf_counter() - start, result.stdout


def wide(dense_peer, runs):
    """The dense grid: whole-process wall seconds of coordsim (one thread) and of the peer."""
    one_thread = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
                      MKL_NUM_THREADS="1")
    ours, theirs, their_loop = [], [], []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            seconds, _ = timed([COORDSIM, "run", os.path.join(ROOT, "sweeps", "bench", "wide.toml"),
                                "--out", os.path.join(tmp, "run"), "--threads", "1", "--quiet"])
            ours.append(seconds)
        seconds, out = timed([sys.executable, dense_peer], env=one_thread)
        theirs.append(seconds)
        their_loop.append(json.loads(out.strip().splitlines()[-1])["seconds"])
    ours, theirs, loop = (statistics.median(x) for x in (ours, theirs, their_loop))
    return {
        "model": "wide (800 quorum cells x 16384 trials)",
        "coordsim_1_thread_wall_s": round(ours, 3),
        "numpy_process_wall_s": round(theirs, 3),
        "numpy_loop_s": round(loop, 3),
        "ratio_vs_numpy_process": round(theirs / ours, 2),
        "ratio_vs_numpy_loop": round(loop / ours, 2),
    }


if __name__ == "__main__":
    main()
