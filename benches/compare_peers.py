"""coordsim against the programs a user would otherwise write, side by side in one go.

usage: python benches/compare_peers.py PEERS_DIR [--runs 5]

PEERS_DIR holds peer_numpy.py and peer_simpy.py (vectorized NumPy and SimPy versions of the
reference models; they need numpy and simpy). For each reference model this runs coordsim on
its sweep in sweeps/bench/ with one thread and with every core, and the peers, several times,
and prints the median trials per second of each and the ratios. coordsim's single-thread
figure is its summary's trials_per_s (thread time spent in trials); its all-core figure is
trials over the wall time of the whole run, writing included. The peers report trials over
the time of their own loops.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

import pyarrow.parquet as pq

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COORDSIM = os.path.join(ROOT, "target", "release", "coordsim")


def coordsim(sweep, threads):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "run")
        result = subprocess.run(
            [COORDSIM, "run", os.path.join(ROOT, "sweeps", "bench", sweep), "--out", out,
             "--threads", str(threads), "--quiet"],
            check=True, capture_output=True, text=True)
        words = result.stdout.split()
        trials, seconds = int(words[words.index("trials") - 1]), float(words[words.index("trials") + 2])
        table = pq.read_table(os.path.join(out, "summary.parquet")).to_pylist()[0]
        return {"per_thread": table["trials_per_s"], "wall": trials / seconds,
                "success": table["success_rate"], "p50": table["latency_ms_p50"],
                "p99": table["latency_ms_p99"], "rounds": table["rounds_mean"]}


def peer(script, args):
    result = subprocess.run([sys.executable, script, *args], check=True, capture_output=True, text=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def median(runs, key):
    return statistics.median(r[key] for r in runs)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("peers")
    parser.add_argument("--runs", type=int, default=5)
    a = parser.parse_args()
    numpy_peer = os.path.join(a.peers, "peer_numpy.py")
    simpy_peer = os.path.join(a.peers, "peer_simpy.py")
    cores = os.cpu_count()
    models = [
        ("quorum", "quorum.toml", ["quorum", "--trials", "2000000"], True),
        ("2pc", "2pc.toml", ["2pc", "--n", "10", "--trials", "1000000"], False),
        ("gossip", "gossip.toml", ["gossip", "--n", "1000", "--trials", "2000"], False),
    ]
    print(f"{cores} cores, {a.runs} runs each, medians")
    for name, sweep, numpy_args, with_simpy in models:
        one = [coordsim(sweep, 1) for _ in range(a.runs)]
        every = [coordsim(sweep, cores) for _ in range(a.runs)]
        numpy = [peer(numpy_peer, numpy_args) for _ in range(a.runs)]
        line = {
            "model": name,
            "coordsim_1_thread_trials_per_s": round(median(one, "per_thread")),
            f"coordsim_{cores}_threads_trials_per_s": round(median(every, "wall")),
            "numpy_trials_per_s": round(median(numpy, "trials_per_s")),
            "ratio_1_thread_vs_numpy": round(median(one, "per_thread") / median(numpy, "trials_per_s"), 2),
            "parallel_efficiency": round(median(every, "wall") / (cores * median(one, "per_thread")), 3),
            "coordsim_success": one[0]["success"], "numpy_success": numpy[0]["success"],
            "coordsim_p50_ms": one[0]["p50"], "numpy_p50": numpy[0]["p50"],
            "coordsim_p99_ms": one[0]["p99"], "numpy_p99": numpy[0]["p99"],
        }
        if name == "gossip":
            line["coordsim_mean_rounds"] = one[0]["rounds"]
            line["numpy_mean_rounds"] = numpy[0]["mean"]
        if with_simpy:
            simpy = [peer(simpy_peer, ["--trials", "20000"]) for _ in range(a.runs)]
            line["simpy_trials_per_s"] = round(median(simpy, "trials_per_s"))
            line["ratio_1_thread_vs_simpy"] = round(median(one, "per_thread") / median(simpy, "trials_per_s"), 1)
        print(json.dumps(line))


if __name__ == "__main__":
    main()
