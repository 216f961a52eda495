#!/usr/bin/env python3
"""How the default portfolio was chosen: simulate portfolios on a benchmark's per-seed results.

    interleave bench --seeds 30 --save bench.json
    python3 ci/portfolio_sim.py bench.json

For every ordered choice of up to four single strategies and slices that double every one, two or
three rounds, replays each seed: a member that found the bug at its x-th execution finds it for the
portfolio once its slices have added up to x. Prints the portfolios with the lowest total of
medians over every bug (a miss counts as the whole budget), with the worst ratio to the best single
strategy per bug, and whether every catalog bug was found within 1,000 executions with a median of
at most 10. Not run by CI: it only reads what `bench` measured.
"""
import itertools
import json
import sys


def main(path):
    d = json.load(open(path))
    seeds, budget = d["seeds"], d["budget"]
    data = {}
    for r in d["bug_finding"]:
        runs = r["executions_by_seed"]
        if len(runs) == 1:  # a systematic strategy: the same for every seed
            runs = runs * seeds
        data.setdefault(r["scenario"] + "/" + r["variant"], {})[r["strategy"]] = runs
    bugs = list(data)

    def sim(members, seed, bug, growth):
        found = {m: data[bug][m][seed] for m in members}
        done = {m: 0 for m in members}
        spent, rnd = 0, 0
        while spent < budget:
            size = 1 << min(rnd // growth, 20)
            rnd += 1
            for m in members:
                x = found[m]
                if x is not None and done[m] + size >= x:
                    return spent + (x - done[m])
                done[m] += size
                spent += size
        return None

    def median(v):
        v = sorted(v, key=lambda x: x if x is not None else float("inf"))
        return v[(len(v) - 1) // 2]

    singles = ["random", "pct(d=1)", "pct(d=2)", "pct(d=3)", "urw", "bounded"]
    for s in singles:
        print(f"single {s:10} total {sum((median(data[b][s]) or budget) for b in bugs)}")
    results = []
    for n in range(1, 5):
        for combo in itertools.permutations(["random", "urw", "pct(d=2)", "pct(d=3)", "bounded"], n):
            for growth in (1, 2, 3):
                total, worst, catalog_ok = 0, 0.0, True
                for b in bugs:
                    vals = [sim(combo, s, b, growth) for s in range(seeds)]
                    m = median(vals)
                    m = budget if m is None else m
                    best = min(median(data[b][s]) for s in singles if median(data[b][s]) is not None)
                    total += m
                    worst = max(worst, m / best)
                    if not b.startswith("family") and (m > 10 or any(v is None or v > 1000 for v in vals)):
                        catalog_ok = False
                results.append((total, worst, catalog_ok, combo, growth))
    results.sort()
    for r in results[:10]:
        print("total %5d worst ratio %.2f catalog target %-5s members %s, slices double every %d round(s)" % r)
    print("with bounded (needed to prove a holds):")
    for r in [r for r in results if "bounded" in r[3]][:5]:
        print("total %5d worst ratio %.2f catalog target %-5s members %s, slices double every %d round(s)" % r)


if __name__ == "__main__":
    main(sys.argv[1])
