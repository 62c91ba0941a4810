"""Writes N log-normal latencies (median 1 ms, sigma 0.5), one per line in ms, from a fixed
seed: the measurements of the empirical benchmarks (sweeps/bench/empirical.toml).

    python3 sweeps/bench/lognormal_samples.py 100000 > sweeps/bench/lognormal-100k.csv
"""

import random
import sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
rng = random.Random(1)
sys.stdout.write("".join(f"{rng.lognormvariate(0.0, 0.5):.6f}\n" for _ in range(n)))
