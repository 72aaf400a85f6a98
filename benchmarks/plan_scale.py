"""Planner speed and batch counts for 100, 1,000 and 10,000 hosts. Prints JSON.

Two kinds of cloud per size:
- overlapping: every compute is in a rack (40 hosts), a site (half the cloud), one of
  seven host aggregates cutting across racks, and perhaps a VNF anti-affinity group;
  budgets on all of them at once, plus 10% for the whole component.
- disjoint: racks only, four out of each at once: here the plan must reach the lower
  bound exactly (canary off; with the canary on, one batch more at most).

lower_bound is the largest ceil(targets / allowed out) over the groups. Planning time
is the median of --repeat runs of validate() + build_plan(), without Ansible.

    python3 benchmarks/plan_scale.py [--sizes 100 1000 10000] [--repeat 3]
"""

import argparse
import json
import random
import statistics
import sys
import time

import _collection

_collection.add_to_path()

from ansible_collections.opnfv.escalator.plugins.plugin_utils._campaign import validate  # noqa: E402
from ansible_collections.opnfv.escalator.plugins.plugin_utils._planner import build_plan  # noqa: E402


def cloud(n, overlapping, seed=7):
    rng = random.Random(seed)
    hosts = [f"cmp{i:05d}" for i in range(n)]
    groups = {"all": hosts, "computes": hosts}
    for i, h in enumerate(hosts):
        groups.setdefault(f"rack_{i // 40:04d}", []).append(h)
        if overlapping:
            groups.setdefault(f"site_{i * 2 // n}", []).append(h)
            groups.setdefault(f"agg_{i % 7}", []).append(h)
    if overlapping:
        shuffled = hosts[:]
        rng.shuffle(shuffled)
        for k in range(n // 10):  # a VNF of three members on 30% of the hosts
            groups[f"vnf_{k:05d}"] = sorted(shuffled[3 * k:3 * k + 3])
    return groups


def campaign(overlapping, canary):
    red = {"max_unavailable": "10%" if overlapping else "100%",
           "groups": [{"match": "rack_*", "max_unavailable": 4}]}
    if overlapping:
        red["groups"] += [{"match": "site_*", "max_unavailable": "10%"},
                          {"match": "agg_*", "max_unavailable": "12%"}]
        red["anti_affinity"] = ["vnf_*"]
    return {"name": "scale", "canary": canary, "components": [{
        "name": "nova-compute", "targets": "computes", "version": "2.0", "expected_duration": "10m",
        "artifact": {"type": "package", "name": "nova-compute"}, "redundancy": red}]}


def measure(n, overlapping, canary, repeat):
    groups = cloud(n, overlapping)
    doc = campaign(overlapping, canary)
    times, plan = [], None
    for dummy in range(repeat):
        t0 = time.perf_counter()
        plan = build_plan(validate(doc), groups, run_id="bench")
        times.append(time.perf_counter() - t0)
    comp = plan["components"][0]
    return {
        "hosts": n,
        "groups": len(groups),
        "cloud": "overlapping" if overlapping else "disjoint",
        "canary": canary,
        "planning_time_s": round(statistics.median(times), 4),
        "batches": len(comp["batches"]),
        "lower_bound": comp["lower_bound"],
        "largest_batch": max(comp["batches"]),
    }


def main(argv=None):
    p = argparse.ArgumentParser(description="Planner scale benchmark (JSON on stdout).")
    p.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000])
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args(argv)
    if args.repeat < 1 or any(s < 1 for s in args.sizes):
        p.error("--sizes and --repeat must be at least 1")
    results = []
    for n in args.sizes:
        results.append(measure(n, True, True, args.repeat))
        results.append(measure(n, False, False, args.repeat))
        results.append(measure(n, False, True, args.repeat))
    big = [r for r in results if r["hosts"] == max(args.sizes) and r["cloud"] == "overlapping"]
    print(json.dumps({
        "benchmark": "plan_scale",
        "python": sys.version.split()[0],
        "results": results,
        "targets": {
            "largest_overlapping_under_2s": all(r["planning_time_s"] < 2.0 for r in big),
            "disjoint_without_canary_at_lower_bound": all(
                r["batches"] == r["lower_bound"] for r in results if r["cloud"] == "disjoint" and not r["canary"]),
        },
    }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
