"""Rolling upgrade of the lab, measured with live traffic, three ways. Prints JSON.

(a) escalator: the lab campaign as it is (canary, drain, snapshot, verify, undrain);
(b) all_at_once_no_drain: every controller at once, no drain (a common default);
(c) serial_no_drain: one controller at a time, no drain.

Before each scenario the lab is put back to Keystone 28.1.0 on a fresh database. Each
gives failed requests, the longest window without a successful request and the wall
time of the playbook. lower_bound_s is what no run can avoid, measured in the same run:
the staging of the new version on every target (once, in parallel, while they serve),
per batch the slowest node's switch and restart until it serves, and the component-wide
steps (database expand, migrate and contract); ratio is the wall time divided by it, and
overhead_s splits what the run spent beyond it. drained_window gives, per node, how long
it was out of service beside its restart until serving.

Needs the lab up (`make lab-up`, or `make benchmarks` which brings it up); takes about
fifteen minutes on the 2-core reference machine.
    python3 benchmarks/rolling_upgrade.py [--scenarios escalator all_at_once_no_drain serial_no_drain]
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]
BIN = pathlib.Path(sys.executable).parent
ENV = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
           PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")
CONTROLLERS = ("ctl1", "ctl2", "ctl3")


def sh(*argv, check=True):
    return subprocess.run(argv, cwd=ROOT, env=ENV, capture_output=True, text=True, check=check)


def reset_lab():
    """Keystone 28.1.0 on every controller, on a freshly bootstrapped database."""
    for ctl in CONTROLLERS:
        sh("docker", "exec", f"escalator-{ctl}", "sh", "-c",
           "systemctl stop keystone; rm -rf /opt/keystone/29.1.0 /var/lib/escalator/snapshots; "
           "ln -sfn /opt/keystone/28.1.0 /opt/keystone/current")
    sh("docker", "exec", "escalator-db1", "sudo", "-u", "postgres", "psql", "-qc",
       "drop database if exists keystone with (force)")
    sh("ansible-playbook", "lab/deploy.yml")


def campaign(kind, directory):
    doc = yaml.safe_load((ROOT / "campaigns" / "lab.yml").read_text())
    comp = doc["components"][0]
    if kind != "escalator":
        doc["canary"] = False
        comp["maintenance"] = {"backend": "none"}
        comp["redundancy"] = {"max_unavailable": "100%" if kind == "all_at_once_no_drain" else 1}
    path = pathlib.Path(directory) / f"{kind}.yml"
    path.write_text(yaml.safe_dump(doc))
    return path


def run(kind, directory):
    reset_lab()
    state = pathlib.Path(directory) / f"state-{kind}"
    probe = subprocess.Popen([sys.executable, str(ROOT / "lab" / "probe.py"), "--duration", "0", "--timeout", "3"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(2)
    start = time.monotonic()
    proc = sh("ansible-playbook", "playbooks/upgrade.yml", "-e", f"escalator_campaign={campaign(kind, directory)}",
              "-e", f"escalator_state_dir={state}", check=False)
    wall = time.monotonic() - start
    time.sleep(2)
    probe.terminate()
    summary = json.loads(probe.communicate(timeout=60)[0])
    result = {"scenario": kind, "succeeded": proc.returncode == 0, "wall_time_s": round(wall, 1),
              "failed_requests": summary["failed"], "total_requests": summary["total"],
              "longest_gap_s": summary["longest_gap_s"], "failures_by_status": summary["failures_by_status"]}
    plans = sorted(state.glob("runs/*.plan.json"))
    reports = sorted(state.glob("runs/*.report.json"))
    if plans and reports:
        plan = json.loads(plans[-1].read_text())
        report = json.loads(reports[-1].read_text())
        result.update(lower_bound(plan, report, wall))
    if proc.returncode != 0:
        result["error_tail"] = (proc.stdout + proc.stderr)[-1500:]
    return result


def lower_bound(plan, report, wall):
    """The run's lower bound and what its wall time spent beyond it, from its plan and report.

    Unavoidable: staging the new version on every target (once, in parallel, while they
    serve), then per batch its slowest node's switch and restart until it serves again
    (work_seconds), and the component-wide steps (database expand, migrate, contract).
    Per node, the drained window (drain to undrain) is set beside its work.
    """
    nodes = report["nodes"]
    batches = [b["pairs"] for b in plan["batches"]]
    work = {p: float(n.get("work_seconds") or 0) for p, n in nodes.items()}
    seconds = {p: float(n.get("seconds") or 0) for p, n in nodes.items()}
    steps = report.get("steps") or []
    stage = sum(s["seconds"] for s in steps if s["when"] == "stage")
    before = sum(s["seconds"] for s in steps if s["when"] == "before")
    after = sum(s["seconds"] for s in steps if s["when"] == "after")
    batch_work = sum(max(work[p] for p in batch) for batch in batches)
    bound = stage + batch_work + before + after
    # Per batch: how much longer its slowest node took than the batch's unavoidable work.
    per_node = sum(max(seconds[p] for p in batch) - max(work[p] for p in batch) for batch in batches)
    outside = wall - float(report.get("seconds") or wall)
    overhead = {
        "ansible_start_and_exit_s": outside,
        "per_node_guard_drain_snapshot_undrain_s": per_node,
    }
    overhead["plan_preflight_and_batch_setup_s"] = wall - bound - sum(overhead.values())
    windows = {p: {"drained_s": n.get("drained_seconds"), "restart_until_serving_s": n.get("work_seconds")}
               for p, n in nodes.items()}
    return {
        "batches": [len(b) for b in batches],
        "stage_s": round(stage, 1),
        "component_steps_s": round(before + after, 1),
        "lower_bound_s": round(bound, 1),
        "ratio": round(wall / bound, 3) if bound else None,
        "drained_window": windows,
        "drained_within_restart_plus_10s": all(
            (w["drained_s"] or 0) <= (w["restart_until_serving_s"] or 0) + 10 for w in windows.values()),
        "overhead_s": {k: round(v, 1) for k, v in overhead.items()},
        "steps": steps,
    }


def main(argv=None):
    p = argparse.ArgumentParser(description="Rolling upgrade benchmark on the lab (JSON on stdout).")
    p.add_argument("--scenarios", nargs="+", default=["escalator", "all_at_once_no_drain", "serial_no_drain"],
                   choices=["escalator", "all_at_once_no_drain", "serial_no_drain"])
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as directory:
        results = [run(kind, directory) for kind in args.scenarios]
    reset_lab()
    print(json.dumps({"benchmark": "rolling_upgrade", "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
