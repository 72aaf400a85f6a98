"""Faults injected into the lab's rolling upgrade, measured. Prints JSON.

Runs the fault-injection suite (tests/integration/test_faults.py) on the lab, each fault
while the traffic probe runs and Keystone data is written, and prints per fault: the
requests sent and how many failed, the seconds from the fault to every controller serving
on one version (the end of the run that met it), what was lost (must be nothing) and how
the run ended; then whether every fault's test passed.

Needs the faults lab up (`make faults-lab-up`), or the lab --inventory names; takes about
22 minutes on the 2-core reference machine.
    python3 benchmarks/faults.py [-k EXPRESSION] [--inventory inventories/lab]
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[1]


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", dest="expression", help="only the faults whose test names match (pytest -k)")
    parser.add_argument("--inventory", default="inventories/lab-faults",
                        help="the lab to break, a path from the collection's root (default: %(default)s)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        figures = pathlib.Path(tmp, "figures.jsonl")
        argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(ROOT / "tests" / "integration" /
                                                                                    "test_faults.py")]
        if args.expression:
            argv += ["-k", args.expression]
        proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False,
                              env=dict(os.environ, ESCALATOR_FAULT_FIGURES=str(figures),
                                       ESCALATOR_TEST_INVENTORY=args.inventory))
        faults = [json.loads(line) for line in figures.read_text().splitlines()] if figures.exists() else []
    tail = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr.strip()[-300:]
    print(json.dumps(summarize(faults, proc.returncode, tail), indent=2))
    return 0 if proc.returncode == 0 else 1


def summarize(faults, returncode, tests):
    """The figures of every fault, and over all of them: failed requests (where Keystone kept
    its redundancy, and where the fault took away what it has only one of: its database),
    what was lost."""
    return {
        "faults": faults,
        "failed_requests": sum(f["failed_requests"] for f in faults if f.get("redundancy_kept", True)),
        "failed_requests_without_redundancy": sum(f["failed_requests"] for f in faults
                                                  if not f.get("redundancy_kept", True)),
        "requests": sum(f["requests"] for f in faults),
        "lost": [f["fault"] for f in faults if f["lost"]],
        "slowest_recovery_s": max((f["recover_s"] for f in faults), default=None),
        "tests": tests,
        "all_passed": returncode == 0,
    }


if __name__ == "__main__":
    sys.exit(main())
