"""The OpenStack lab upgraded whole, 2026.1 to 2026.2, under the probe (after test_lab.py).

The first run meets a canary compute whose verify fails once it runs Nova 34.0.0: the
control plane is upgraded, that compute is restored to 33.0.2 and enabled again, and the
run stops. Fixed, the same command resumes and finishes: every service on 2026.2, every
instance ACTIVE, the VNF's anti-affinity kept, no API request failed and no instance lost
from the first run to the last. A rollback then is refused, since Nova no longer starts
33.0.2, with nothing changed.
"""

import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time

import pytest
import testinfra
import yaml

from conftest import INVENTORY, ROOT, body_of, call, workload

STATE = "/tmp/escalator-openstack-test-state"
MARKER = "/etc/escalator-fail-verify"
NEW = {"keystone": "30.0.0", "placement": "16.0.0", "glance": "33.0.0", "neutron": "29.0.0", "nova": "34.0.0"}
PACKAGE = {"placement": "openstack-placement"}


@pytest.fixture(scope="module", autouse=True)
def no_earlier_state():
    """No lock and no report of an earlier run: STATE is wiped when the tests start, not
    when the module is imported (collecting the tests beside a run would wipe its state)."""
    shutil.rmtree(STATE, ignore_errors=True)


def run_playbook(name, *extra):
    env = dict(os.environ, ANSIBLE_NOCOLOR="1")
    return subprocess.run(["ansible-playbook", "-i", str(INVENTORY), str(ROOT / "playbooks" / name),
                           "-e", f"escalator_state_dir={STATE}", *extra],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=2400, check=False)


def flat(proc):
    return " ".join((proc.stdout + proc.stderr).split())


def node(host):
    return testinfra.get_host(f"docker://escalator-{host}")


def version(host, software):
    return node(host).check_output(
        f"/opt/{software}/current/bin/python -c 'import importlib.metadata as m; "
        f"print(m.version(\"{PACKAGE.get(software, software)}\"))'")


def last_report():
    reports = sorted(pathlib.Path(STATE, "runs").glob("*.report.json"), key=lambda p: p.stat().st_mtime)
    return json.loads(reports[-1].read_text())


def computes(token, vip):
    services = body_of(call(f"http://{vip}:8774/v2.1/os-services?binary=nova-compute", token))["services"]
    return {s["host"]: (s["status"], s["state"]) for s in services}


@pytest.fixture(scope="module")
def probe(lab, tmp_path_factory):
    """lab/probe_openstack.py from before the first run to after the last."""
    output = tmp_path_factory.mktemp("probe") / "summary.json"
    proc = subprocess.Popen([sys.executable, str(ROOT / "lab" / "probe_openstack.py"), "--vip", lab["lab_vip"],
                             "--duration", "0", "--create-interval", "10", "--output", str(output)],
                            env=dict(os.environ, OS_PASSWORD=lab["lab_keystone_admin_password"]),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(5)

    def stop():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=120)
        assert output.exists(), proc.stderr.read()[-2000:]
        return json.loads(output.read_text())
    yield stop
    if proc.poll() is None:
        proc.kill()


@pytest.fixture(scope="module")
def failing_campaign(tmp_path_factory):
    """The lab's campaign with a verify that fails on a compute marked with MARKER once it
    runs 34.0.0."""
    campaign = yaml.safe_load((ROOT / "campaigns" / "lab-openstack.yml").read_text())
    compute = next(c for c in campaign["components"] if c["name"] == "nova-compute")
    compute["verify"].append({
        "name": "injected failure", "type": "command",
        "command": f"test ! -e {MARKER} -o \"$(readlink /opt/nova/current)\" != /opt/nova/34.0.0"})
    path = tmp_path_factory.mktemp("campaign") / "campaign.yml"
    path.write_text(yaml.safe_dump(campaign, sort_keys=False))
    return path


def test_1_a_failing_canary_compute_is_restored_and_the_run_stops(lab, token, inventory, probe, failing_campaign):
    canary = inventory["computes"]["hosts"][0]
    node(canary).check_output(f"touch {MARKER}")
    try:
        proc = run_playbook("upgrade.yml", "-e", f"escalator_campaign={failing_campaign}")
    finally:
        node(canary).check_output(f"rm -f {MARKER}")
    out = flat(proc)
    assert proc.returncode == 2, out[-4000:]
    assert "run upgrade.yml again to resume" in out, out[-3000:]
    nodes = last_report()["nodes"]
    assert nodes[f"nova-compute@{canary}"]["result"] == "failed, restored", nodes
    for host in inventory["controllers"]["hosts"]:
        assert {s: version(host, s) for s in NEW} == NEW, host
    assert {h: version(h, "nova") for h in inventory["computes"]["hosts"]} == dict.fromkeys(
        inventory["computes"]["hosts"], "33.0.2")
    assert set(computes(token, lab["lab_vip"]).values()) == {("enabled", "up")}
    assert {i["status"] for i in workload(lab)} == {"ACTIVE"}
    assert not os.path.exists(f"{STATE}/lock")


def test_2_the_same_command_resumes_and_upgrades_every_compute(lab, token, inventory, probe, failing_campaign):
    proc = run_playbook("upgrade.yml", "-e", f"escalator_campaign={failing_campaign}")
    assert proc.returncode == 0, flat(proc)[-4000:]
    report = last_report()
    assert {n["result"] for k, n in report["nodes"].items() if k.startswith("nova-compute@")} == {"upgraded"}
    assert {h: version(h, "nova") for h in inventory["computes"]["hosts"]} == dict.fromkeys(
        inventory["computes"]["hosts"], "34.0.0")
    assert set(computes(token, lab["lab_vip"]).values()) == {("enabled", "up")}
    after = workload(lab)
    assert {i["status"] for i in after} == {"ACTIVE"} and len(after) == 6
    vnf = [i["host"] for i in after if i["group"] == "vnf-a"]
    assert len(vnf) == len(set(vnf)) == 3
    # The VNF's manager was told of every compute with instances before it was emptied,
    # each session whole and in order, and its active member was never on a compute in
    # maintenance; the report shows every exchange with its latency.
    vnfm = node(inventory["db"]["hosts"][0]).file("/var/log/lab-vnfm.jsonl").content_string
    sessions = {}
    for record in map(json.loads, vnfm.splitlines()):
        if record["kind"] in ("notification", "host"):
            sessions.setdefault(record["session_id"], []).append(record)
    assert sessions, vnfm[-2000:]
    for session in sessions.values():
        assert [r["state"] for r in session] == [
            "MAINTENANCE", "PLANNED_MAINTENANCE", *["INSTANCE_ACTION_DONE"] * len(session[1]["instances"]),
            "IN_MAINTENANCE", "MAINTENANCE_COMPLETE", "MAINTENANCE_COMPLETE"], session
        in_maintenance = next(r for r in session if r["state"] == "IN_MAINTENANCE")
        assert in_maintenance["active"] not in session[1]["instances"], session
    exchanges = [e for k, n in report["nodes"].items() if k.startswith("nova-compute@") for e in n["coordination"]]
    replies = [e for e in exchanges if e["state"] == "PLANNED_MAINTENANCE"]
    assert replies and all(e["reply"] == "ACK_PLANNED_MAINTENANCE" and 0 < e["latency_s"] < 60 for e in replies), \
        exchanges
    # The computes' last steps ran: the data migrations, and the upgrade check passing on
    # the new release (judged by its named results).
    out = flat(proc)
    for step in ("nova online data migrations", "nova upgrade check on the new release"):
        assert f"Run {step}" in out, step
    ctl = node(inventory["controllers"]["hosts"][0])
    check = ctl.run("/opt/nova/current/bin/nova-status --config-file /etc/nova/nova.conf "
                    "--config-file /etc/nova/nova-db.conf upgrade check")
    assert check.rc in (0, 1) and "Result: Failure" not in check.stdout, check.stdout


def test_3_no_request_failed_and_no_instance_was_lost(probe):
    summary = probe()
    failed = {api: figures["failed"] for api, figures in summary["apis"].items()}
    assert failed == dict.fromkeys(failed, 0), (summary["apis"], summary["failed_requests"])
    instances = summary["instances"]
    assert (instances["lost"], instances["anti_affinity_violations"]) == (0, 0), instances
    assert instances["live_migrations"] >= 4, instances
    assert summary["create_delete"]["failed"] == 0, summary["create_delete"]


def test_4_a_rollback_after_the_finished_run_is_refused_with_nothing_changed(lab, token, inventory):
    """Nova refuses to start 33.0.2 once every service of a kind has run 34.0.0: the
    campaign's rollback checks refuse the rollback before any pair is touched."""
    proc = run_playbook("rollback.yml")
    out = flat(proc)
    assert proc.returncode != 0, out[-3000:]
    assert "nova-compute rollback check, a nova-compute still runs 33.0.2" in out, out[-3000:]
    assert "lacks require" in out
    hosts = inventory["computes"]["hosts"] + inventory["controllers"]["hosts"]
    assert {h: version(h, "nova") for h in hosts} == dict.fromkeys(hosts, "34.0.0")
    assert set(computes(token, lab["lab_vip"]).values()) == {("enabled", "up")}
    assert not pathlib.Path(STATE, "lock").exists()
