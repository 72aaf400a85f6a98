"""Rolling upgrade of the lab, measured with live traffic, three ways. Prints JSON.

(a) escalator: the lab campaign as it is (canary, drain, snapshot, verify, undrain);
(b) all_at_once_no_drain: every controller at once, no drain (a common default);
(c) serial_no_drain: one controller at a time, no drain.

Before each scenario the lab is put back to Keystone 28.1.0 on a fresh database. Each
gives failed requests, the longest window without a successful request and the wall
time of the playbook; lower_bound_s is the sum over batches of the slowest node's
unavoidable work (install plus restart until it serves), measured in the same run,
ratio is the wall time divided by it, and overhead_s splits what the run spent beyond
it. ratio_with_component_steps also counts the component-wide steps (the database
expand, migrate and contract) as unavoidable work.

Needs the lab up (`make lab-up`, or `make benchmarks` which brings it up); takes about
twenty minutes on the 2-core reference machine.
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

    A node's work_seconds is its install plus its restart until it serves; the canary's
    install runs before the database steps that need the new code, so it is counted in
    the canary's work and taken out of the time of those steps.
    """
    nodes = report["nodes"]
    batches = plan["components"][0]["batch_hosts"]
    work = {h: float(n.get("work_seconds") or 0) for h, n in nodes.items()}
    staged = {h: float(n.get("staged_install_seconds") or 0) for h, n in nodes.items()}
    seconds = {h: float(n.get("seconds") or 0) for h, n in nodes.items()}
    bound = sum(max(work[h] for h in batch) for batch in batches)
    steps = report.get("steps") or []
    before = sum(s["seconds"] - s.get("install_seconds", 0) for s in steps if s["when"] == "before")
    after = sum(s["seconds"] for s in steps if s["when"] == "after")
    # Per batch: how much longer its slowest node took than the batch's unavoidable work.
    per_node = sum(max(seconds[h] for h in batch) - max(work[h] - staged[h] for h in batch) for batch in batches)
    outside = wall - float(report.get("seconds") or wall)
    overhead = {
        "ansible_start_and_exit_s": outside,
        "steps_before_first_node_s": before,
        "steps_after_last_node_s": after,
        "per_node_guard_drain_snapshot_undrain_s": per_node,
    }
    overhead["plan_preflight_and_batch_setup_s"] = wall - bound - sum(overhead.values())
    # The database steps are unavoidable too, though the bound above leaves them out.
    with_steps = bound + before + after
    return {
        "batches": [len(b) for b in batches],
        "lower_bound_s": round(bound, 1),
        "ratio": round(wall / bound, 3) if bound else None,
        "lower_bound_with_component_steps_s": round(with_steps, 1),
        "ratio_with_component_steps": round(wall / with_steps, 3) if with_steps else None,
        "overhead_s": {k: round(v, 1) for k, v in overhead.items()},
        "node_seconds": {h: n.get("seconds") for h, n in nodes.items()},
        "node_work_seconds": {h: n.get("work_seconds") for h, n in nodes.items()},
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
