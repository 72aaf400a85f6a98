"""The rolling upgrade on the lab, with the traffic probe running: the product's promise.

Order matters and is kept by the test names: a failing canary first (the lab stays at
28.1.0), then the real upgrade to 29.1.0, then a second run that has nothing to do.
"""

import json
import os
import pathlib
import shutil
import subprocess
import sys
import time

import yaml

from conftest import haproxy_states

ROOT = pathlib.Path(__file__).resolve().parents[2]
MARKER = "/etc/escalator-fail-verify"
STATE = "/tmp/escalator-test-state"
# Each run of these tests starts with no lock and no report of an earlier run.
shutil.rmtree(STATE, ignore_errors=True)


def run_playbook(name, *extra):
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               PATH=f"{pathlib.Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    return subprocess.run(["ansible-playbook", "-i", str(ROOT / "inventories" / "lab"), str(ROOT / "playbooks" / name),
                           *extra], cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800, check=False)


def keystone_version(host):
    return host.check_output("/opt/keystone/current/bin/python -c "
                             "'import importlib.metadata as m; print(m.version(\"keystone\"))'")


def test_1_failing_canary_is_restored_and_the_run_stops(probe_run, lab_hosts, group, tmp_path):
    campaign = yaml.safe_load((ROOT / "campaigns" / "lab.yml").read_text())
    # A check that fails only once the canary runs 29.1.0 while the marker is there.
    campaign["components"][0]["verify"].append({
        "name": "injected failure", "type": "command",
        "command": f"test ! -e {MARKER} -o \"$(readlink /opt/keystone/current)\" != /opt/keystone/29.1.0"})
    path = tmp_path / "campaign.yml"
    path.write_text(yaml.safe_dump(campaign))
    controllers = group("controllers")
    canary = lab_hosts[controllers[0]]
    canary.run(f"touch {MARKER}")
    run = probe_run()
    try:
        time.sleep(2)
        proc = run_playbook("upgrade.yml", "-e", f"escalator_campaign={path}", "-e", f"escalator_state_dir={STATE}")
        time.sleep(2)
        summary = run.stop()
    finally:
        canary.run(f"rm -f {MARKER}")
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-3000:]
    assert "failed, restored" in out and "The run stopped" in out, out[-3000:]
    for name in controllers:
        assert keystone_version(lab_hosts[name]) == "28.1.0", name
    (lb,) = group("lb")
    states = haproxy_states(lab_hosts[lb])
    assert states == {name: 2 for name in controllers}, states  # nothing left drained
    assert not os.path.exists(f"{STATE}/lock")
    assert summary["failed"] == 0, summary


def test_2_rolling_upgrade_has_no_failed_request(probe_run, lab_hosts, group):
    run = probe_run()
    time.sleep(2)
    proc = run_playbook("upgrade.yml", "-e", f"escalator_state_dir={STATE}")
    time.sleep(2)
    summary = run.stop()
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    for name in group("controllers"):
        assert keystone_version(lab_hosts[name]) == "29.1.0", name
    ctl = lab_hosts[group("controllers")[0]]
    check = ctl.run("sudo -u keystone /opt/keystone/current/bin/keystone-manage db_sync --check")
    assert check.rc == 0, check.stdout + check.stderr  # expanded, migrated and contracted
    assert summary["failed"] == 0, summary
    assert set(summary["by_backend"]) == set(group("controllers"))


def test_3_second_run_changes_nothing(lab_hosts, group):
    proc = run_playbook("upgrade.yml", "-e", f"escalator_state_dir={STATE}")
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    reports = sorted(pathlib.Path(STATE, "runs").glob("*.report.json"),
                     key=lambda p: p.stat().st_mtime)
    nodes = json.loads(reports[-1].read_text())["nodes"]
    assert {name: node["result"] for name, node in nodes.items()} == {
        name: "already done" for name in group("controllers")}
