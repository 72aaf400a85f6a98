"""The rolling upgrade on the lab, with the traffic probe running: the product's promise.

Order matters and is kept by the test names: a failing canary (the lab stays at 28.1.0),
a refused run, a hung install stopped before any node is touched, a failing canary with
no load balancer, a failing second node with rollback_all (back to 28.1.0), the real
upgrade to 29.1.0 resuming a run that was killed with the canary drained, a second run
that has nothing to do, and rollback.yml back to 28.1.0.
"""

import hashlib
import json
import os
import pathlib
import subprocess
import sys
import threading
import time

import pytest
import yaml

from conftest import (MARKER, STATE, assert_all_serving_at, flat, haproxy_states, keystone_call, keystone_token,
                      keystone_version, last_report, no_failed_request, pair, run_playbook, run_under_probe,
                      wait_all_up)
from webhook_receiver import Receiver

ROOT = pathlib.Path(__file__).resolve().parents[2]
WEBHOOK_SECRET = "whsec_" + __import__("base64").b64encode(b"the lab's webhook secret, 32 b.").decode()
pytestmark = pytest.mark.usefixtures("no_earlier_state")


def failing_campaign(tmp_path, on_failure):
    """The lab campaign with a check that fails once a node marked with MARKER runs 29.1.0."""
    campaign = yaml.safe_load((ROOT / "campaigns" / "lab.yml").read_text())
    campaign["components"][0]["on_failure"] = on_failure
    # The injected failure never clears: its node's checks are given 40 s, not the node's
    # whole limit (270 s), before it counts as failed; Keystone restarts within that.
    campaign["components"][0]["verify_timeout"] = "40s"
    campaign["components"][0]["verify"].append({
        "name": "injected failure", "type": "command",
        "command": f"test ! -e {MARKER} -o \"$(readlink /opt/keystone/current)\" != /opt/keystone/29.1.0"})
    path = tmp_path / "campaign.yml"
    path.write_text(yaml.safe_dump(campaign))
    return path


def upgrade_with_failing_node(probe_run, host, campaign):
    """upgrade.yml under the probe, with host marked to fail its verify once it runs 29.1.0."""
    host.run(f"touch {MARKER}")
    try:
        return run_under_probe(probe_run, "upgrade.yml", "-e", f"escalator_campaign={campaign}")
    finally:
        host.run(f"rm -f {MARKER}")


def set_server(lb, name, state):
    lb.check_output(f"echo 'set server keystone/{name} state {state}' | socat stdio /run/haproxy/admin.sock")


def test_1_failing_canary_is_restored_and_the_run_stops(probe_run, lab_hosts, group, tmp_path):
    controllers = group("controllers")
    proc, summary = upgrade_with_failing_node(probe_run, lab_hosts[controllers[0]],
                                              failing_campaign(tmp_path, "rollback_batch"))
    out = flat(proc)
    assert proc.returncode != 0, out[-3000:]
    assert "failed, restored" in out and "run upgrade.yml again to resume" in out, out[-3000:]
    assert f"[ESC-VERIFY-001] Upgrade of keystone on {controllers[0]}" in out, out[-3000:]
    assert_all_serving_at(lab_hosts, group, "28.1.0")
    nodes = last_report()["nodes"]
    assert nodes[pair(controllers[0])]["result"] == "failed, restored"
    assert nodes[pair(controllers[0])]["code"] == "ESC-VERIFY-001"
    assert nodes[pair(controllers[1])]["result"] == "not reached"  # the run stopped before the next batch
    assert summary["failed"] == 0, no_failed_request(summary)


def test_2_degraded_group_is_refused_and_nothing_changes(lab_hosts, group):
    controllers = group("controllers")
    (lb,) = group("lb")
    set_server(lab_hosts[lb], controllers[2], "maint")  # out for a reason of its own
    try:
        proc = run_playbook("upgrade.yml", "-e", f"escalator_state_dir={STATE}", "-e", "preflight_retries=1")
    finally:
        set_server(lab_hosts[lb], controllers[2], "ready")
    out = flat(proc)
    assert proc.returncode != 0, out[-3000:]
    assert "Nothing in service was changed" in out, out[-3000:]
    assert f"redundancy group intact, {controllers[2]} serves at {lb}" in out, out[-3000:]
    wait_all_up(lab_hosts[lb])
    assert_all_serving_at(lab_hosts, group, "28.1.0")


def test_2a_a_refused_plan_takes_no_lock_and_changes_nothing(lab_hosts, group, tmp_path):
    campaign = yaml.safe_load((ROOT / "campaigns" / "lab.yml").read_text())
    campaign["components"][0]["maintenance"]["settings"]["lb_group"] = "balancers"
    path = tmp_path / "campaign.yml"
    path.write_text(yaml.safe_dump(campaign))
    proc = run_playbook("upgrade.yml", "-e", f"escalator_campaign={path}", "-e", f"escalator_state_dir={STATE}")
    out = flat(proc)
    assert proc.returncode != 0, out[-3000:]
    assert "components[0].maintenance.settings.lb_group: 'balancers' is no inventory group" in out, out[-3000:]
    assert "Nothing in service was changed" in out, out[-3000:]
    assert not os.path.exists(f"{STATE}/lock")
    assert_all_serving_at(lab_hosts, group, "28.1.0")


def test_2d_check_mode_shows_every_batch_and_changes_nothing(lab_hosts, group):
    reports_before = sorted(pathlib.Path(STATE, "runs").glob("*"))
    proc = run_playbook("upgrade.yml", "--check", "-e", f"escalator_state_dir={STATE}")
    out = flat(proc)
    assert proc.returncode == 0, out[-3000:]
    for n, host in enumerate(group("controllers"), 1):
        assert f"batch {n} of the run, keystone on {host}: 28.1.0 -> 29.1.0" in out, out[-3000:]
    assert "Would run the before steps of keystone on ctl1: database expand, database migrate." in out
    assert "Would run the after steps of keystone on ctl3: database contract." in out
    assert sorted(pathlib.Path(STATE, "runs").glob("*")) == reports_before
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
    out = flat(proc)
    assert proc.returncode != 0, out[-3000:]
    assert "did not finish within 3 s and was stopped" in out, out[-3000:]
    assert "failed, no service was touched" in out, out[-3000:]
    assert "[ESC-STAGE-001] staging keystone" in out, out[-3000:]
    assert not canary.file("/opt/keystone/29.1.0/.installed").exists  # never taken for a complete venv
    assert canary.run("pgrep -f '[p]ip install'").rc == 1  # killed, not left running ([p]: not this shell)
    assert_all_serving_at(lab_hosts, group, "28.1.0")
    nodes = last_report()["nodes"]
    assert nodes[pair(group("controllers")[0])]["result"] == "staging failed, service untouched"
    assert {node["result"] for node in nodes.values()} <= {"not reached", "staging failed, service untouched"}


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
    out = flat(proc)
    assert proc.returncode != 0, out[-3000:]
    node = last_report()["nodes"][pair(controllers[0])]
    assert node["result"] == "failed, restored", node
    assert "injected failure" in node["error"], node  # past the guard, failed at its verify
    assert_all_serving_at(lab_hosts, group, "28.1.0")


def test_3_rollback_all_puts_back_the_batches_already_done(probe_run, lab_hosts, group, tmp_path):
    controllers = group("controllers")
    proc, summary = upgrade_with_failing_node(probe_run, lab_hosts[controllers[1]],
                                              failing_campaign(tmp_path, "rollback_all"))
    out = flat(proc)
    assert proc.returncode != 0, out[-3000:]
    assert "the pairs it upgraded were rolled back" in out, out[-3000:]
    assert_all_serving_at(lab_hosts, group, "28.1.0")
    report = last_report()
    assert {name: node["result"] for name, node in report["nodes"].items()} == {
        pair(controllers[0]): "upgraded, then rolled back", pair(controllers[1]): "failed, restored",
        pair(controllers[2]): "not reached"}
    assert f"Upgrade of keystone on {controllers[1]}" in report["stopped"]
    assert summary["failed"] == 0, no_failed_request(summary)


def test_3b_rollback_batch_puts_back_the_whole_batch_of_two(probe_run, lab_hosts, group, tmp_path):
    controllers = group("controllers")
    campaign = yaml.safe_load(failing_campaign(tmp_path, "rollback_batch").read_text())
    campaign["components"][0]["redundancy"] = {"max_unavailable": 2}  # canary, then a batch of two
    path = tmp_path / "batch-of-two.yml"
    path.write_text(yaml.safe_dump(campaign))
    proc, summary = upgrade_with_failing_node(probe_run, lab_hosts[controllers[2]], path)
    out = flat(proc)
    assert proc.returncode != 0, out[-3000:]
    report = last_report()
    assert {name: node["result"] for name, node in report["nodes"].items()} == {
        pair(controllers[0]): "upgraded", pair(controllers[1]): "upgraded, then rolled back",
        pair(controllers[2]): "failed, restored"}
    assert [node["batch"] for node in report["nodes"].values()] == [1, 2, 2]
    assert summary["failed"] == 0, no_failed_request(summary)
    # The batch is back on 28.1.0; the canary's batch stays on 29.1.0 until rollback.yml.
    assert keystone_version(lab_hosts[controllers[1]]) == "28.1.0"
    assert keystone_version(lab_hosts[controllers[0]]) == "29.1.0"
    proc, summary = run_under_probe(probe_run, "rollback.yml", "-e", f"escalator_run_id={report['run_id']}")
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    assert_all_serving_at(lab_hosts, group, "28.1.0")
    assert summary["failed"] == 0, no_failed_request(summary)


def test_4_rolling_upgrade_resumes_and_has_no_failed_request(probe_run, lab_hosts, group, tmp_path):
    controllers = group("controllers")
    (lb,) = group("lb")
    # A run killed right after it drained the canary: out at the balancer, with its marker.
    pathlib.Path(STATE, "drained").mkdir(parents=True, exist_ok=True)
    pathlib.Path(STATE, "drained", pair(controllers[0])).write_text(pair(controllers[0]) + "\n")
    set_server(lab_hosts[lb], controllers[0], "maint")
    # Alarms and events to a receiver on loopback, every step shown at -vvv.
    receiver = Receiver(WEBHOOK_SECRET).start()
    hooks = tmp_path / "hooks.json"
    hooks.write_text(json.dumps({"escalator_webhooks": [{"url": receiver.url + "/events", "secret": WEBHOOK_SECRET}]}))
    try:
        proc, summary = run_under_probe(probe_run, "upgrade.yml", "-e", f"@{hooks}", "-vvv")
    finally:
        receiver.stop()
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    assert_all_serving_at(lab_hosts, group, "29.1.0")
    assert not list(pathlib.Path(STATE, "drained").iterdir())
    ctl = lab_hosts[controllers[0]]
    check = ctl.run("sudo -u keystone /opt/keystone/current/bin/keystone-manage db_sync --check")
    assert check.rc == 0, check.stdout + check.stderr  # expanded, migrated and contracted
    nodes = last_report()["nodes"]
    assert {name: (node["from_version"], node["version"]) for name, node in nodes.items()} == {
        pair(name): ("28.1.0", "29.1.0") for name in controllers}
    # Installs were staged before the first batch: each node was out only for its switch,
    # restart and verify.
    for node in nodes.values():
        assert node["drained_seconds"] <= node["work_seconds"] + 10, node
    assert summary["failed"] == 0, no_failed_request(summary)
    assert set(summary["by_backend"]) == set(controllers)
    # No secret of the lab's inventory in Ansible's output, at -vvv.
    lab_vars = yaml.safe_load((ROOT / "inventories" / "lab" / "group_vars" / "all.yml").read_text())
    secrets = [v for k, v in lab_vars.items() if "password" in k and isinstance(v, str) and "{{" not in v]
    assert secrets and not [v for v in secrets if v in proc.stdout + proc.stderr]
    assert WEBHOOK_SECRET not in proc.stdout + proc.stderr
    # The report, the status file, the audit log, the webhooks and the page tell the same run.
    report = last_report()
    runs = pathlib.Path(STATE, "runs")
    status = json.loads((runs / f"{report['run_id']}.status.json").read_text())
    audit = [json.loads(line) for line in (runs / f"{report['run_id']}.audit.jsonl").read_text().splitlines()]
    assert {k: v["result"] for k, v in status["nodes"].items()} == {k: v["result"] for k, v in nodes.items()}
    assert {f"keystone@{e['object']}": e["result"] for e in audit if e["action"] == "node"} == {
        k: v["result"] for k, v in nodes.items()}
    drained = [e for e in audit if e["action"] == "drain" and e["result"] == "started"]
    assert sorted(e["object"] for e in drained) == sorted(controllers)
    events = receiver.verified()
    assert all(d["verified"] for d in receiver.deliveries)
    assert [e["type"].rsplit(".", 1)[1] for e in events] == ["run_started", "component_done", "run_done"]
    assert {e["data"]["run_id"] for e in events} == {report["run_id"]}
    assert events[2]["data"]["data"]["results"] == {k: v["result"] for k, v in nodes.items()}
    page = runs / f"{report['run_id']}.report.html"
    rewrite = subprocess.run(["ansible", "localhost", "-o", "-m", "opnfv.escalator.html_report", "-a", json.dumps(
        {"path": str(runs), "run_id": report["run_id"], "probe_records": [str(tmp_path / "records.jsonl")]})],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
        env=dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
                 PATH=f"{pathlib.Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"))
    assert rewrite.returncode == 0, rewrite.stdout + rewrite.stderr
    text = page.read_text()
    assert '<figure id="timeline"><svg' in text and '<figure id="availability"><svg' in text
    assert f"{summary['total']} requests, 0 failed" in text


def test_5_second_run_changes_nothing(lab_hosts, group, tmp_path):
    # Run from a controller with no state of its own, the runs kept on the database host
    # (escalator_state_host), as an AWX job container would.
    (db,) = group("db")
    kept = "/var/lib/escalator-test"
    lab_hosts[db].run(f"rm -rf {kept}")
    proc = run_playbook("upgrade.yml", "-e", f"escalator_state_host={db}", "-e", f"escalator_state_dir={kept}",
                        env={"ESCALATOR_STATE_DIR": str(tmp_path)})
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    (report,) = (tmp_path / "hosts" / db / "runs").glob("*.report.json")
    nodes = json.loads(report.read_text())["nodes"]
    assert {name: node["result"] for name, node in nodes.items()} == {
        pair(name): "already done" for name in group("controllers")}
    on_db = sorted(lab_hosts[db].run(f"cd {kept} && find runs drained lock").stdout.split())
    run_id = report.name[:-len(".report.json")]
    assert on_db == sorted(["runs", "drained"] + [f"runs/{run_id}.{kept_file}" for kept_file in (
        "report.json", "plan.json", "campaign.yml", "status.json", "audit.jsonl", "report.html")]), on_db
    lab_hosts[db].run(f"rm -rf {kept}")


def test_5c_keystone_admin_control_refuses_a_member_and_lets_an_admin_through(lab_hosts, group, vip_url):
    """escalator_auth keystone against the lab's own Keystone: a user with only the member
    role on project admin is refused before anything is planned or locked; an admin goes on."""
    admin = keystone_token(vip_url, "admin", "escalator-lab-admin")
    status, dummy, found = keystone_call(vip_url, "GET", "/users?name=escalator-operator", admin)
    if found.get("users"):
        user_id = found["users"][0]["id"]
    else:
        status, dummy, made = keystone_call(vip_url, "POST", "/users", admin, {"user": {
            "name": "escalator-operator", "domain_id": "default", "password": "operator-password"}})
        assert status == 201, status
        user_id = made["user"]["id"]
    dummy, dummy, projects = keystone_call(vip_url, "GET", "/projects?name=admin", admin)
    dummy, dummy, roles = keystone_call(vip_url, "GET", "/roles?name=member", admin)
    status, dummy, dummy = keystone_call(
        vip_url, "PUT", f"/projects/{projects['projects'][0]['id']}/users/{user_id}/roles/{roles['roles'][0]['id']}", admin)
    assert status == 204, status
    operator = keystone_token(vip_url, "escalator-operator", "operator-password")
    auth = ["-e", "escalator_auth=keystone", "-e", f"escalator_auth_url={vip_url}", "-e", "escalator_auth_project=admin"]
    runs_before = sorted(pathlib.Path(STATE, "runs").glob("*.plan.json"))
    proc = run_playbook("upgrade.yml", "--check", "-e", f"escalator_state_dir={STATE}", *auth,
                        env={"OS_TOKEN": operator})
    assert proc.returncode == 2, flat(proc)[-3000:]
    assert ("[ESC-AUTH-001] escalator_auth keystone: user escalator-operator (domain Default) has no role admin on "
            "project admin (roles: member") in flat(proc)
    assert operator not in proc.stdout + proc.stderr
    assert sorted(pathlib.Path(STATE, "runs").glob("*.plan.json")) == runs_before
    assert not os.path.exists(f"{STATE}/lock")
    proc = run_playbook("upgrade.yml", "--check", "-v", "-e", f"escalator_state_dir={STATE}", *auth,
                        env={"OS_TOKEN": admin})
    assert proc.returncode == 0, flat(proc)[-3000:]
    assert admin not in proc.stdout + proc.stderr
    assert "escalator_user: admin (Keystone, domain Default)" in flat(proc)


def test_5b_rollback_in_check_mode_changes_nothing(lab_hosts, group):
    proc = run_playbook("rollback.yml", "--check", "-e", f"escalator_state_dir={STATE}")
    out = flat(proc)
    assert proc.returncode == 0, out[-3000:]
    for host in group("controllers"):
        assert f"Would drain {host} (haproxy), restore" in out, out[-3000:]
    assert_all_serving_at(lab_hosts, group, "29.1.0")


def test_6_rollback_brings_every_controller_back(probe_run, lab_hosts, group):
    proc, summary = run_under_probe(probe_run, "rollback.yml")
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    assert_all_serving_at(lab_hosts, group, "28.1.0")
    assert summary["failed"] == 0, no_failed_request(summary)
    nodes = last_report("rollback")["nodes"]
    assert {name: node["result"] for name, node in nodes.items()} == {
        pair(name): "upgraded, then rolled back" for name in group("controllers")}
    # The run that found everything done was passed over; a second rollback has nothing to do.
    again = run_playbook("rollback.yml", "-e", f"escalator_state_dir={STATE}")
    assert again.returncode == 0, (again.stdout + again.stderr)[-4000:]
    nodes = last_report("rollback")["nodes"]
    assert {node["result"] for node in nodes.values()} == {"nothing to roll back"}


def test_7_pause_leaves_the_node_drained_and_a_resume_finishes(probe_run, lab_hosts, group, tmp_path):
    controllers = group("controllers")
    (lb,) = group("lb")
    proc, summary = upgrade_with_failing_node(probe_run, lab_hosts[controllers[0]],
                                              failing_campaign(tmp_path, "pause"))
    out = flat(proc)
    assert proc.returncode != 0, out[-3000:]
    assert f"{pair(controllers[0])} is left drained for inspection" in out, out[-3000:]
    assert "run upgrade.yml again to resume" in out, out[-3000:]
    assert last_report()["nodes"][pair(controllers[0])]["result"] == "failed, left drained (pause)"
    assert haproxy_states(lab_hosts[lb])[controllers[0]] != 2
    assert pathlib.Path(STATE, "drained", pair(controllers[0])).exists()
    assert not os.path.exists(f"{STATE}/lock")
    assert summary["failed"] == 0, no_failed_request(summary)
    # The operator fixed the node (the failure marker is gone): the same command resumes.
    proc, summary = run_under_probe(probe_run, "upgrade.yml")
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    assert_all_serving_at(lab_hosts, group, "29.1.0")
    nodes = last_report()["nodes"]
    assert nodes[pair(controllers[0])]["result"] == "already done"
    assert nodes[pair(controllers[1])]["result"] == "upgraded"
    assert summary["failed"] == 0, no_failed_request(summary)


def test_8_a_node_lost_in_mid_run_leaves_a_report_no_lock_and_only_itself_drained(
        probe_run, lab_hosts, group, tmp_path):
    # From 29.1.0 back to 28.1.0 as a campaign of its own (the engine has no direction),
    # with ctl2's container killed while it is out of service for its verify.
    controllers = group("controllers")
    (lb,) = group("lb")
    wheelhouse = pathlib.Path(os.environ.get("ESCALATOR_CACHE", "/var/cache/escalator"), "artifacts", "keystone-28.1.0")
    campaign = yaml.safe_load((ROOT / "campaigns" / "lab.yml").read_text())
    comp = campaign["components"][0]
    comp["version"] = "28.1.0"
    comp["artifact"]["path"] = str(wheelhouse)
    comp["artifact"]["sha256"] = hashlib.sha256((wheelhouse / "SHA256SUMS").read_bytes()).hexdigest()
    comp["upgrade"]["wheelhouse_on_node"] = "/srv/artifacts/keystone-28.1.0"
    comp["phases"] = {}
    comp["verify"].append({"name": "slow on a marked node", "type": "command",
                           "command": f"test ! -e {MARKER} || sleep 30", "timeout": 60})
    path = tmp_path / "back.yml"
    path.write_text(yaml.safe_dump(campaign))
    victim = controllers[1]
    lab_hosts[victim].run(f"touch {MARKER}")
    killer = threading.Thread(target=kill_when_drained, args=(lab_hosts[lb], victim), daemon=True)
    killer.start()
    try:
        proc, dummy = run_under_probe(probe_run, "upgrade.yml", "-e", f"escalator_campaign={path}")
    finally:
        killer.join(timeout=60)
        subprocess.run(["docker", "start", f"escalator-{victim}"], check=False, capture_output=True)
    out = flat(proc)
    assert proc.returncode != 0, out[-3000:]
    # A dead container fails the docker connection's commands: the pair's own rescue runs
    # and cannot restore it (a host that stops answering altogether is lost from the
    # play instead; tests/unit/engine covers that). Either way the report says so.
    report = last_report()
    assert report["stop"]["pairs"] == [pair(victim)], report["stop"]
    assert "left" in report["nodes"][pair(victim)]["result"], report["nodes"]
    assert f"Upgrade of keystone on {victim} to 28.1.0 failed" in out or "became unreachable" in out, out[-3000:]
    assert "run upgrade.yml again to resume" in out, out[-3000:]
    assert report["nodes"][pair(controllers[0])]["result"] == "upgraded"
    assert report["nodes"][pair(controllers[2])]["result"] == "not reached"
    assert not os.path.exists(f"{STATE}/lock")
    # Only the lost node is out at the balancer, and the markers say exactly that.
    assert sorted(os.listdir(f"{STATE}/drained")) == [pair(victim)]
    states = haproxy_states(lab_hosts[lb])
    assert [name for name, state in states.items() if state != 2] == [victim], states
    # Back, with its marker gone, the same command resumes and finishes.
    wait_for_systemd(victim)
    lab_hosts[victim].run(f"rm -f {MARKER}")
    proc, summary = run_under_probe(probe_run, "upgrade.yml", "-e", f"escalator_campaign={path}")
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    assert_all_serving_at(lab_hosts, group, "28.1.0")
    assert summary["failed"] == 0, no_failed_request(summary)


def kill_when_drained(lb, victim, timeout=600):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if haproxy_states(lb).get(victim, 2) != 2:
            time.sleep(3)  # well inside its 30 s verify
            subprocess.run(["docker", "kill", f"escalator-{victim}"], check=False, capture_output=True)
            return
        time.sleep(0.5)


def wait_for_systemd(host, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = subprocess.run(["docker", "exec", f"escalator-{host}", "systemctl", "is-system-running"],
                               capture_output=True, text=True, check=False).stdout.strip()
        if state in ("running", "degraded"):
            return
        time.sleep(1)
    raise AssertionError(f"{host}: systemd did not come back")
