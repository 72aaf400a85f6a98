"""The rolling upgrade on the lab, with the traffic probe running: the product's promise.

Order matters and is kept by the test names: a failing canary (the lab stays at 28.1.0),
a refused run, a hung install stopped before any node is touched, a failing canary with
no load balancer, a failing second node with rollback_all (back to 28.1.0), the real
upgrade to 29.1.0 resuming a run that was killed with the canary drained, a second run
that has nothing to do, and rollback.yml back to 28.1.0.
"""

import json
import os
import pathlib
import shutil
import subprocess
import sys
import time

import yaml

from conftest import haproxy_states, wait_all_up

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


def failing_campaign(tmp_path, on_failure):
    """The lab campaign with a check that fails once a node marked with MARKER runs 29.1.0."""
    campaign = yaml.safe_load((ROOT / "campaigns" / "lab.yml").read_text())
    campaign["components"][0]["on_failure"] = on_failure
    campaign["components"][0]["verify"].append({
        "name": "injected failure", "type": "command",
        "command": f"test ! -e {MARKER} -o \"$(readlink /opt/keystone/current)\" != /opt/keystone/29.1.0"})
    path = tmp_path / "campaign.yml"
    path.write_text(yaml.safe_dump(campaign))
    return path


def run_under_probe(probe_run, name, *extra):
    """Run a playbook with the traffic probe running before, during and after it: (process, summary)."""
    run = probe_run()
    time.sleep(2)
    proc = run_playbook(name, "-e", f"escalator_state_dir={STATE}", *extra)
    time.sleep(2)
    return proc, run.stop()


def upgrade_with_failing_node(probe_run, host, campaign):
    """upgrade.yml under the probe, with host marked to fail its verify once it runs 29.1.0."""
    host.run(f"touch {MARKER}")
    try:
        return run_under_probe(probe_run, "upgrade.yml", "-e", f"escalator_campaign={campaign}")
    finally:
        host.run(f"rm -f {MARKER}")


def set_server(lb, name, state):
    lb.check_output(f"echo 'set server keystone/{name} state {state}' | socat stdio /run/haproxy/admin.sock")


def last_report(kind="report"):
    reports = sorted(pathlib.Path(STATE, "runs").glob(f"*.{kind}.json"), key=lambda p: p.stat().st_mtime)
    return json.loads(reports[-1].read_text())


def assert_all_serving_at(lab_hosts, group, version):
    for name in group("controllers"):
        assert keystone_version(lab_hosts[name]) == version, name
    (lb,) = group("lb")
    states = haproxy_states(lab_hosts[lb])
    assert states == {name: 2 for name in group("controllers")}, states  # nothing left drained
    assert not os.path.exists(f"{STATE}/lock")


def test_1_failing_canary_is_restored_and_the_run_stops(probe_run, lab_hosts, group, tmp_path):
    controllers = group("controllers")
    proc, summary = upgrade_with_failing_node(probe_run, lab_hosts[controllers[0]],
                                              failing_campaign(tmp_path, "rollback_batch"))
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-3000:]
    assert "failed, restored" in out and "The run stopped" in out, out[-3000:]
    assert_all_serving_at(lab_hosts, group, "28.1.0")
    nodes = last_report()["nodes"]
    assert nodes[controllers[0]]["result"] == "failed, restored"
    assert nodes[controllers[1]]["result"] == "not reached"  # the run stopped before the next batch
    assert summary["failed"] == 0, summary


def test_2_degraded_group_is_refused_and_nothing_changes(lab_hosts, group):
    controllers = group("controllers")
    (lb,) = group("lb")
    set_server(lab_hosts[lb], controllers[2], "maint")  # out for a reason of its own
    try:
        proc = run_playbook("upgrade.yml", "-e", f"escalator_state_dir={STATE}", "-e", "preflight_retries=1")
    finally:
        set_server(lab_hosts[lb], controllers[2], "ready")
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-3000:]
    assert "Preflight refused the run, nothing was changed" in out, out[-3000:]
    assert f"redundancy group intact, {controllers[2]} serves at {lb}" in out, out[-3000:]
    wait_all_up(lab_hosts[lb])
    assert_all_serving_at(lab_hosts, group, "28.1.0")


def test_2b_a_hung_install_is_stopped_and_no_node_is_touched(lab_hosts, group, tmp_path):
    campaign = yaml.safe_load((ROOT / "campaigns" / "lab.yml").read_text())
    campaign["timeout_margin"] = 1
    campaign["components"][0]["expected_duration"] = "3s"  # the install takes far longer
    path = tmp_path / "campaign.yml"
    path.write_text(yaml.safe_dump(campaign))
    canary = lab_hosts[group("controllers")[0]]
    canary.run("rm -rf /opt/keystone/29.1.0")  # an earlier test left a complete venv there
    proc = run_playbook("upgrade.yml", "-e", f"escalator_campaign={path}", "-e", f"escalator_state_dir={STATE}")
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-3000:]
    assert "did not finish within 3 s and was stopped" in out, out[-3000:]
    assert "the steps before the first node failed, no node was touched" in out, out[-3000:]
    assert not canary.file("/opt/keystone/29.1.0/.installed").exists  # never taken for a complete venv
    assert canary.run("pgrep -f '[p]ip install'").rc == 1  # killed, not left running ([p]: not this shell)
    assert_all_serving_at(lab_hosts, group, "28.1.0")
    assert {node["result"] for node in last_report()["nodes"].values()} == {"not reached"}


def test_2c_without_a_load_balancer_the_node_is_upgraded_verified_and_restored(probe_run, lab_hosts, group,
                                                                               tmp_path):
    # maintenance: none (as with a Pacemaker or Nova backend, there is no load balancer to
    # guard at): the canary goes all the way to its verify, which fails, and is restored.
    campaign = yaml.safe_load(failing_campaign(tmp_path, "rollback_batch").read_text())
    campaign["components"][0]["maintenance"] = {"backend": "none"}
    path = tmp_path / "no-balancer.yml"
    path.write_text(yaml.safe_dump(campaign))
    controllers = group("controllers")
    # Not drained, the canary's restart may fail requests: the probe's figures are not the point here.
    proc, dummy = upgrade_with_failing_node(probe_run, lab_hosts[controllers[0]], path)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-3000:]
    node = last_report()["nodes"][controllers[0]]
    assert node["result"] == "failed, restored", node
    assert "injected failure" in node["error"], node  # past the guard, failed at its verify
    assert_all_serving_at(lab_hosts, group, "28.1.0")


def test_3_rollback_all_puts_back_the_batches_already_done(probe_run, lab_hosts, group, tmp_path):
    controllers = group("controllers")
    proc, summary = upgrade_with_failing_node(probe_run, lab_hosts[controllers[1]],
                                              failing_campaign(tmp_path, "rollback_all"))
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-3000:]
    assert "the nodes it upgraded were rolled back" in out, out[-3000:]
    assert_all_serving_at(lab_hosts, group, "28.1.0")
    report = last_report()
    assert {name: node["result"] for name, node in report["nodes"].items()} == {
        controllers[0]: "upgraded, then rolled back", controllers[1]: "failed, restored",
        controllers[2]: "not reached"}
    assert f"Upgrade of {controllers[1]}" in report["stopped"]
    assert summary["failed"] == 0, summary


def test_4_rolling_upgrade_resumes_and_has_no_failed_request(probe_run, lab_hosts, group):
    controllers = group("controllers")
    (lb,) = group("lb")
    # A run killed right after it drained the canary: out at the balancer, with its marker.
    pathlib.Path(STATE, "drained").mkdir(parents=True, exist_ok=True)
    pathlib.Path(STATE, "drained", controllers[0]).write_text(controllers[0] + "\n")
    set_server(lab_hosts[lb], controllers[0], "maint")
    proc, summary = run_under_probe(probe_run, "upgrade.yml")
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    assert_all_serving_at(lab_hosts, group, "29.1.0")
    assert not list(pathlib.Path(STATE, "drained").iterdir())
    ctl = lab_hosts[controllers[0]]
    check = ctl.run("sudo -u keystone /opt/keystone/current/bin/keystone-manage db_sync --check")
    assert check.rc == 0, check.stdout + check.stderr  # expanded, migrated and contracted
    nodes = last_report()["nodes"]
    assert {name: (node["from_version"], node["version"]) for name, node in nodes.items()} == {
        name: ("28.1.0", "29.1.0") for name in controllers}
    assert summary["failed"] == 0, summary
    assert set(summary["by_backend"]) == set(controllers)


def test_5_second_run_changes_nothing(group):
    proc = run_playbook("upgrade.yml", "-e", f"escalator_state_dir={STATE}")
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    nodes = last_report()["nodes"]
    assert {name: node["result"] for name, node in nodes.items()} == {
        name: "already done" for name in group("controllers")}


def test_6_rollback_brings_every_controller_back(probe_run, lab_hosts, group):
    proc, summary = run_under_probe(probe_run, "rollback.yml")
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    assert_all_serving_at(lab_hosts, group, "28.1.0")
    assert summary["failed"] == 0, summary
    nodes = last_report("rollback")["nodes"]
    assert {name: node["result"] for name, node in nodes.items()} == {
        name: "upgraded, then rolled back" for name in group("controllers")}
    # The run that found everything done was passed over; a second rollback has nothing to do.
    again = run_playbook("rollback.yml", "-e", f"escalator_state_dir={STATE}")
    assert again.returncode == 0, (again.stdout + again.stderr)[-4000:]
    nodes = last_report("rollback")["nodes"]
    assert {node["result"] for node in nodes.values()} == {"nothing to roll back"}
