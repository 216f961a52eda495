#!/usr/bin/env python3
"""How the default portfolio was chosen: simulate portfolios on a benchmark's per-seed results.

    interleave bench --seeds 10 --budget 2000 --no-holds --save bench.json
    python3 ci/portfolio_sim.py bench.json

A portfolio runs its members in rounds; in round r a member gets a slice of `first * 2^(r // k)`
executions (`first` in 1, 2, 4, 8; doubling every k = 1, 2 or 3 rounds). This tries every ordered
choice of the bounded search (which alone can prove a `holds`, so it is always a member, with
slices 1, 2, 4, … ) and one or two samplers (shuttle's random, urw and pct(d=3); the step-level
pos, surw, step-pct(d=3)), with every such slicing of each sampler, and replays each seed: a member
that found the bug at its x-th execution finds it for the portfolio once its slices have added up
to x. Prints each single strategy's total, then the portfolios with the lowest total of medians
over every bug (a miss counts as the whole budget), with the worst ratio to the best single
strategy or bare scheduler per bug, the geometric mean of the medians, how many catalog bugs have a
median above 5, whether every seed of every bug was found, and what a `holds` proof costs: the
portfolio's executions per execution of a bounded search that needs 100 (and 10,000) to finish.
Not run by CI: it only reads what `bench` measured.
"""
import itertools
import json
import math
import sys

SAMPLERS = ["random", "urw", "pct(d=3)", "pos", "surw", "step-pct(d=3)"]
# The default as harness/src/portfolio.rs ships it (`MEMBERS`), and the one before it.
SHIPPED = [("surw", (8, 3)), ("pct(d=3)", (4, 3)), ("bounded", (1, 1))]
BEFORE = [("surw", (1, 1)), ("pct(d=3)", (1, 1)), ("bounded", (1, 1))]
SLICINGS = [(first, k) for first in (1, 2, 4, 8) for k in (1, 2, 3)]
BOUNDED = (1, 1)


def size(rnd, slicing):
    first, k = slicing
    return first << min(rnd // k, 20)


def median(v):
    # As `interleave bench` takes it: the upper of the two middle values of an even count, a miss
    # counted as worse than any find.
    v = sorted(v, key=lambda x: x if x is not None else float("inf"))
    return v[len(v) // 2]


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

    def sim(members, seed, bug):
        found = {m: data[bug][m][seed] for m, _ in members}
        done = {m: 0 for m, _ in members}
        spent, rnd = 0, 0
        while spent < budget:
            for m, slicing in members:
                s = size(rnd, slicing)
                x = found[m]
                if x is not None and done[m] + s >= x:
                    return spent + (x - done[m])
                done[m] += s
                spent += s
            rnd += 1
        return None

    def proof_cost(members, n):
        spent, rnd, done = 0, 0, 0
        while True:
            for m, slicing in members:
                s = size(rnd, slicing)
                if m == "bounded":
                    if done + s >= n:
                        return (spent + n - done) / n
                    done += s
                spent += s
            rnd += 1

    present = set(data[bugs[0]])
    singles = [s for s in present if s != "default"]
    for s in sorted(singles) + (["default"] if "default" in present else []):
        total = sum((median(data[b][s]) or budget) for b in bugs)
        allfound = all(v is not None for b in bugs for v in data[b][s])
        print(f"single {s:14} total {total:6}  every seed of every bug found: {allfound}")
    best = {}
    for b in bugs:
        meds = [median(data[b][s]) for s in singles]
        best[b] = min([x for x in meds if x is not None] or [budget])
    def evaluate(members):
        total, worst, logs, over5, all_found = 0, 0.0, 0.0, 0, True
        for b in bugs:
            vals = [sim(members, s, b) for s in range(seeds)]
            m = median(vals)
            m = budget if m is None else m
            total += m
            worst = max(worst, m / max(best[b], 1))
            logs += math.log(max(m, 1))
            all_found = all_found and all(v is not None for v in vals)
            if not b.startswith("family") and m > 5:
                over5 += 1
        proof = (proof_cost(members, 100), proof_cost(members, 10000))
        return (total, worst, math.exp(logs / len(bugs)), over5, all_found, proof, members)

    line = ("total %5d worst ratio %5.2f geomean %5.2f catalog medians > 5: %d every seed found %-5s "
            "proof cost %.1f (N=100) %.1f (N=10,000) members %s")
    for name, members in (("the shipped default", SHIPPED), ("the default before it", BEFORE)):
        if all(m in present for m, _ in members):
            r = evaluate(members)
            print(f"{name}, simulated:")
            print(line % (r[0], r[1], r[2], r[3], r[4], r[5][0], r[5][1], r[6]))
    results = []
    samplers = [s for s in SAMPLERS if s in present]
    for n in (1, 2):
        for chosen in itertools.permutations(samplers, n):
            for slicings in itertools.product(SLICINGS, repeat=n):
                for at in range(n + 1):
                    members = list(zip(chosen, slicings))
                    members.insert(at, ("bounded", BOUNDED))
                    results.append(evaluate(members))
    results.sort(key=lambda r: (r[0], r[2]))
    for r in results[:15]:
        print(line % (r[0], r[1], r[2], r[3], r[4], r[5][0], r[5][1], r[6]))
    print("whose proof costs at most 3 times the bounded search at N=100:")
    for r in [r for r in results if r[5][0] <= 3.0][:10]:
        print(line % (r[0], r[1], r[2], r[3], r[4], r[5][0], r[5][1], r[6]))


if __name__ == "__main__":
    main(sys.argv[1])
