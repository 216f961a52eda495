#!/usr/bin/env python3
"""How the default portfolio was chosen: simulate portfolios on a benchmark's per-seed results.

    interleave bench --seeds 30 --save bench.json
    python3 ci/portfolio_sim.py bench.json

For every ordered choice of up to four single strategies (shuttle's random, urw and pct(d=3); the
step-level pos, surw, step-pct(d=2), step-pct(d=3); bounded) and slices that double every one, two
or three rounds, replays each seed: a member that found the bug at its x-th execution finds it for
the portfolio once its slices have added up to x. Prints each single strategy's and bare shuttle
scheduler's total, then the portfolios with the lowest total of medians over every bug (a miss
counts as the whole budget), with the worst ratio to the best single strategy or bare scheduler per
bug, whether every catalog bug's median is at most 5 with every seed found, and whether every seed
of every bug was found. Not run by CI: it only reads what `bench` measured.
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

    present = set(data[bugs[0]])
    singles = [s for s in ["random", "pct(d=1)", "pct(d=2)", "pct(d=3)", "urw", "pos", "surw", "step-pct(d=2)",
                           "step-pct(d=3)", "bounded"] if s in present]
    bares = [s for s in present if s.startswith("bare ")]
    for s in singles + bares + (["default"] if "default" in present else []):
        total = sum((median(data[b][s]) or budget) for b in bugs)
        allfound = all(v is not None for b in bugs for v in data[b][s])
        print(f"single {s:14} total {total:6}  every seed of every bug found: {allfound}")
    best_bare = min((sum((median(data[b][s]) or budget) for b in bugs), s) for s in bares) if bares else None
    if best_bare:
        print(f"best bare shuttle scheduler: {best_bare[1]}, total {best_bare[0]}")
    results = []
    candidates = [s for s in ["random", "urw", "pct(d=3)", "pos", "surw", "step-pct(d=2)", "step-pct(d=3)", "bounded"]
                  if s in present]
    for n in range(1, 5):
        for combo in itertools.permutations(candidates, n):
            for growth in (1, 2, 3):
                total, worst, catalog_ok, all_found = 0, 0.0, True, True
                for b in bugs:
                    vals = [sim(combo, s, b, growth) for s in range(seeds)]
                    m = median(vals)
                    m = budget if m is None else m
                    meds = [median(data[b][s]) for s in singles + bares]
                    best = min(x for x in meds if x is not None) if any(x is not None for x in meds) else budget
                    total += m
                    worst = max(worst, m / max(best, 1))
                    all_found = all_found and all(v is not None for v in vals)
                    if not b.startswith("family") and (m > 5 or any(v is None for v in vals)):
                        catalog_ok = False
                results.append((total, worst, catalog_ok, all_found, combo, growth))
    results.sort()
    line = "total %5d worst ratio %.2f catalog medians<=5 %-5s every seed found %-5s members %s, slices double every %d round(s)"
    for r in results[:10]:
        print(line % r)
    print("with bounded (needed to prove a holds):")
    for r in [r for r in results if "bounded" in r[4]][:10]:
        print(line % r)


if __name__ == "__main__":
    main(sys.argv[1])
