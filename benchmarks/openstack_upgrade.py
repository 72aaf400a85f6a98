"""The OpenStack lab upgraded whole, 2026.1 to 2026.2, under its probe, three ways. Prints JSON.

(a) escalator: campaigns/lab-openstack.yml as it is (canary, HAProxy drain per controller,
    each compute disabled and emptied by live migration before its upgrade);
(b) controllers_all_at_once: every controller of every control-plane service at once, no
    drain (computes as in (a));
(c) computes_no_drain: the control plane as in (a), then every compute upgraded at once
    without disabling it or moving its instances.

Before each scenario the lab is deployed afresh at 2026.1 (`lab/labctl up openstack` and
`lab/deploy-openstack.yml`, about 6 min). For each: per API the requests, failures and the
longest window without a successful request; the instances (total, lost, the longest any
was not ACTIVE), the live migrations and their durations, the server boots; the wall time
of the playbook against its lower bound (as benchmarks/rolling_upgrade.py computes it:
staging, each batch's slowest switch-and-restart, the component-wide steps) and the
drained window per node.

Needs the artifacts (`make artifacts`); about 20 min per scenario on the 2-core
reference machine.
    python3 benchmarks/openstack_upgrade.py [--scenarios escalator controllers_all_at_once computes_no_drain]
"""

import argparse
import importlib.util
import json
import pathlib
import signal
import subprocess
import sys
import tempfile
import time

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]
# The lower bound and drained windows are worked out as for the Keystone benchmark.
_SPEC = importlib.util.spec_from_file_location("rolling_upgrade", ROOT / "benchmarks" / "rolling_upgrade.py")
_ROLLING = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(_ROLLING)
# So are the commands run and their environment (the venv's tools first on PATH).
lower_bound, sh, ENV = _ROLLING.lower_bound, _ROLLING.sh, _ROLLING.ENV
INVENTORY = ROOT / "inventories" / "lab-openstack"
SCENARIOS = ("escalator", "controllers_all_at_once", "computes_no_drain")


def fresh_lab():
    """The OpenStack lab deployed from nothing at 2026.1."""
    sh(str(ROOT / "lab" / "labctl"), "down", "openstack")
    sh(str(ROOT / "lab" / "labctl"), "up", "openstack")
    sh("ansible-playbook", "-i", str(INVENTORY), "lab/deploy-openstack.yml")


def campaign(kind, doc):
    """The lab's campaign for a scenario (doc: the campaign as loaded; not changed)."""
    doc = json.loads(json.dumps(doc))
    if kind == "escalator":
        return doc
    doc["canary"] = False
    for comp in doc["components"]:
        naive = (comp["targets"] == "controllers") == (kind == "controllers_all_at_once")
        if naive:
            comp["maintenance"] = {"backend": "none"}
            comp.pop("coordination", None)  # nothing is taken out: no manager is told either
            comp["redundancy"] = {"max_unavailable": "100%"}
            for steps in comp.get("phases", {}).values():
                for step in steps:
                    step.pop("maintenance", None)  # the restarts too, with nothing taken out
    return doc


def summarize(probe, result):
    """The probe's figures the benchmark reports."""
    instances = probe["instances"]
    result["apis"] = {api: {"requests": f["total"], "failed": f["failed"], "longest_gap_s": f["longest_gap_s"]}
                      for api, f in probe["apis"].items()}
    result["instances"] = {
        "total": instances["total"], "lost": instances["lost"], "lost_detail": instances["lost_detail"],
        "max_not_active_s": instances["max_not_active_s"],
        "anti_affinity_violations": instances["anti_affinity_violations"],
    }
    durations = sorted(m["duration_s"] for m in instances["migrations"] if m.get("duration_s") is not None)
    result["live_migrations"] = {
        "done": instances["live_migrations"],
        "seconds": {"min": durations[0], "median": durations[len(durations) // 2], "max": durations[-1]}
        if durations else None,
    }
    result["boots"] = {"done": probe["create_delete"]["done"], "failed": probe["create_delete"]["failed"]}
    return result


def run(kind, doc, directory):
    fresh_lab()
    state = pathlib.Path(directory) / f"state-{kind}"
    path = pathlib.Path(directory) / f"{kind}.yml"
    path.write_text(yaml.safe_dump(campaign(kind, doc), sort_keys=False))
    output = pathlib.Path(directory) / f"probe-{kind}.json"
    probe = subprocess.Popen([sys.executable, str(ROOT / "lab" / "probe_openstack.py"), "--duration", "0",
                              "--create-interval", "10", "--output", str(output)],
                             env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(5)
    start = time.monotonic()
    proc = sh("ansible-playbook", "-i", str(INVENTORY), "playbooks/upgrade.yml", "-e", f"escalator_campaign={path}",
              "-e", f"escalator_state_dir={state}", check=False)
    wall = time.monotonic() - start
    time.sleep(5)
    probe.send_signal(signal.SIGTERM)
    probe.wait(timeout=120)
    result = {"scenario": kind, "succeeded": proc.returncode == 0, "wall_time_s": round(wall, 1)}
    summarize(json.loads(output.read_text()), result)
    plans = sorted(state.glob("runs/*.plan.json"))
    reports = sorted(state.glob("runs/*.report.json"))
    if plans and reports:
        result.update(lower_bound(json.loads(plans[-1].read_text()), json.loads(reports[-1].read_text()), wall))
    if proc.returncode != 0:
        result["error_tail"] = (proc.stdout + proc.stderr)[-1500:]
    return result


def main(argv=None):
    p = argparse.ArgumentParser(description="The OpenStack lab's upgrade benchmark (JSON on stdout).")
    p.add_argument("--scenarios", nargs="+", default=list(SCENARIOS), choices=SCENARIOS)
    args = p.parse_args(argv)
    doc = yaml.safe_load((ROOT / "campaigns" / "lab-openstack.yml").read_text())
    with tempfile.TemporaryDirectory() as directory:
        results = [run(kind, doc, directory) for kind in args.scenarios]
    print(json.dumps({"benchmark": "openstack_upgrade", "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
