"""The whole engine on a cloud of twelve components and fourteen hosts, on the local
connection: real ansible-playbook runs of upgrade.yml and rollback.yml, in seconds.

Hosts are shared between components and budgets sit on overlapping groups (racks, VNF
anti-affinity groups); the tests replay the run's events to check that every
(component, host) pair is upgraded exactly once, in dependency order, and that no budget
is ever exceeded.
"""

import datetime
import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest
from standardwebhooks.webhooks import Webhook

import cloud
from keystone_stub import TOKEN, FakeKeystone, body
from webhook_receiver import Receiver

SECRET = "whsec_" + __import__("base64").b64encode(b"escalator engine webhook secret!").decode()

ROOT = pathlib.Path(__file__).resolve().parents[3]
FULL_CLOUD_SECONDS = 2400


def run(root, playbook, *extra, env=None, timeout=900):
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORKS="20",
               PATH=f"{pathlib.Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", **(env or {}))
    return subprocess.run(["ansible-playbook", "-i", str(root / "hosts.yml"), str(ROOT / "playbooks" / playbook),
                           "-e", f"escalator_state_dir={root / 'state'}", *extra],
                          cwd=root, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def flat(proc):
    """The playbook's output with its lines joined: Ansible folds long messages."""
    return " ".join(proc.stdout.split())


def reports(root, kind="report"):
    found = sorted((root / "state" / "runs").glob(f"*.{kind}.json"), key=lambda p: p.stat().st_mtime)
    return [json.loads(p.read_text()) for p in found]


def versions(root, names=None):
    return {(c, h): (root / "hosts" / h / f"{c}.version").read_text().strip()
            for c, hosts in cloud.targets(names).items() for h in hosts}


def assert_budgets_kept(root, plan):
    """Replay the out/in events: no budget of any component's group is ever exceeded."""
    out = {}
    for _t, kind, host, comp in cloud.events(root):
        if kind == "out":
            out.setdefault(comp, set()).add(host)
            for budget in next(c for c in plan["components"] if c["name"] == comp)["budgets"]:
                members = cloud.GROUPS.get(budget["group"]) or cloud.targets()[comp]
                taken = out[comp] & set(members)
                assert len(taken) <= budget["allowed_out"], (comp, budget, sorted(taken))
        elif kind == "in":
            out[comp].discard(host)
    assert not any(out.values()), f"left out of service: {out}"


@pytest.fixture(scope="module")
def upgraded(tmp_path_factory):
    root = cloud.build(tmp_path_factory.mktemp("cloud"))
    # Five minutes on an idle 2-core machine; make test runs it at the lowest priority
    # beside the Keystone lab's integration tests.
    proc = run(root, "upgrade.yml", timeout=FULL_CLOUD_SECONDS)
    return root, proc


def test_every_pair_is_upgraded_once_in_dependency_order_within_every_budget(upgraded):
    root, proc = upgraded
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr
    assert set(versions(root).values()) == {"2.0"}
    events = cloud.events(root)
    upgrades = [(comp, host) for _t, kind, host, comp in events if kind == "upgrade"]
    expected = [(c, h) for c, hosts in cloud.targets().items() for h in hosts]
    assert sorted(upgrades) == sorted(expected), "each (component, host) pair exactly once"
    first = {c: min(i for i, (comp, _h) in enumerate(upgrades) if comp == c) for c in cloud.targets()}
    last = {c: max(i for i, (comp, _h) in enumerate(upgrades) if comp == c) for c in cloud.targets()}
    for name, _tg, deps, _red in cloud.COMPONENTS:
        for dep in deps:
            assert last[dep] < first[name], f"{dep} must be done before {name} starts"
    (report,) = reports(root)
    plan = json.loads((root / "state" / "runs" / f"{report['run_id']}.plan.json").read_text())
    assert_budgets_kept(root, plan)
    assert len(report["nodes"]) == len(expected) == 47
    assert {n["result"] for n in report["nodes"].values()} == {"upgraded"}
    assert report["nodes"]["telemetry@h06"]["host"] == "h06"
    assert not (root / "state" / "lock").exists()
    assert (root / "keystone.expanded").exists()
    # Glance's after steps ran on the hosts their run_on names, the second on one of them.
    assert sorted(p.name for p in root.glob("*.glance-*")) == [
        "h01.glance-after", "h02.glance-after", "h02.glance-once", "h03.glance-after"]
    # The first ran with each controller out of service in turn, after Glance's last batch.
    last_glance = max(i for i, e in enumerate(events) if e[1] == "upgrade" and e[3] == "glance")
    # The step's maintenance mapping overrides the component's enter command.
    step = [(kind, host) for _t, kind, host, comp in events[last_glance:]
            if comp == "glance" and kind in ("out", "step-out", "in")]
    assert step[-6:] == [("step-out", "h01"), ("in", "h01"), ("step-out", "h02"), ("in", "h02"),
                         ("step-out", "h03"), ("in", "h03")]
    # neutron-agents' step ran on the storage hosts (not its nodes), each taken out and put
    # back through the step's own maintenance, after the component's last node.
    last_agents = max(i for i, e in enumerate(events) if e[1] == "upgrade" and e[3] == "neutron-agents")
    assert [(kind, host) for _t, kind, host, comp in events if comp == "step"] == [
        ("own-out", "h12"), ("own-in", "h12"), ("own-out", "h13"), ("own-in", "h13"), ("own-out", "h14"), ("own-in", "h14")]
    assert min(i for i, e in enumerate(events) if e[3] == "step") > last_agents
    assert sorted(p.name for p in root.glob("*.agents-after")) == ["h12.agents-after", "h13.agents-after",
                                                                   "h14.agents-after"]
    # The status callback followed the run: its file says the same as the report.
    status = json.loads((root / "state" / "runs" / f"{report['run_id']}.status.json").read_text())
    assert status["running"] is False and status["phase"] == "done" and status["stopped"] is None
    assert {k: v["result"] for k, v in status["nodes"].items()} == {k: v["result"] for k, v in report["nodes"].items()}
    assert all(c["batches_done"] == c["batches_total"] > 0 for c in status["components"])
    assert len(status["components"]) == 12 and status["failed"] == []
    assert "[escalator " in proc.stdout and "keystone@h01 upgraded" in proc.stdout
    # The run kept the campaign it was planned from.
    assert (root / "state" / "runs" / f"{report['run_id']}.campaign.yml").read_text() == (root / "campaign.yml").read_text()


def test_a_second_run_changes_nothing(upgraded):
    root, _proc = upgraded
    before = cloud.events(root)
    proc = run(root, "upgrade.yml", timeout=FULL_CLOUD_SECONDS)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr
    assert cloud.events(root) == before
    report = reports(root)[-1]
    assert {n["result"] for n in report["nodes"].values()} == {"already done"}


def test_rollback_puts_every_pair_back_last_upgraded_first(upgraded):
    # Check mode and a second rollback are tested on the lab (tests/integration).
    root, _proc = upgraded
    before = cloud.events(root)
    # The upgrade run is the newest that changed a pair (the second run changed none). An
    # empty run id (an AWX survey left blank) means the same as none.
    proc = run(root, "rollback.yml", "-e", "escalator_run_id=", timeout=FULL_CLOUD_SECONDS)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr
    assert set(versions(root).values()) == {"1.0"}
    rolled = [(comp, host) for _t, kind, host, comp in cloud.events(root)[len(before):] if kind == "out"]
    # Components last upgraded first, each one's hosts in reverse order.
    assert rolled[0][0] == "ceph-osd" and rolled[-1] == ("keystone", "h01")
    assert len(rolled) == 47
    report = reports(root, "rollback")[-1]
    assert {n["result"] for n in report["nodes"].values()} == {"upgraded, then rolled back"}
    assert report["nodes"]["glance@h02"]["version"] == "1.0"
    assert not (root / "state" / "lock").exists()


def test_a_failing_rollback_check_refuses_the_whole_rollback(tmp_path):
    """Glance's rollback check fails: nothing is rolled back, not even Keystone, which
    comes after Glance in rollback order; the lock is released. In check mode too."""
    root = cloud.build(tmp_path, names=cloud.SMALL)
    assert run(root, "upgrade.yml").returncode == 0
    before = cloud.events(root)
    (root / "fail" / "rollback-glance").touch()
    for extra in (["--check"], []):
        proc = run(root, "rollback.yml", *extra)
        assert proc.returncode != 0, proc.stdout[-3000:]
        assert "glance rollback check, not marked to refuse: on h01 exited with 1" in proc.stdout, proc.stdout[-3000:]
        assert "[ESC-ROLLBACK-001] The rollback was refused" in flat(proc)
        assert cloud.events(root) == before and set(versions(root, cloud.SMALL).values()) == {"2.0"}
        assert not (root / "state" / "lock").exists()


def test_check_mode_changes_nothing_and_says_what_it_would_do(tmp_path):
    root = cloud.build(tmp_path, names=cloud.SMALL)
    proc = run(root, "upgrade.yml", "--check")
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr
    assert set(versions(root, cloud.SMALL).values()) == {"1.0"}
    assert cloud.events(root) == []
    assert not (root / "state").exists()
    assert "batch 1 of the run, keystone on h01: 1.0 -> 2.0" in flat(proc)
    assert "Would run the before steps of keystone on h01: expand." in flat(proc)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def notify_when_listening(port, answers, deadline=600):
    """Once something listens on port: an unsigned claim, then a signed one."""
    body = json.dumps({"type": "storage.health", "data": {"status": "HEALTH_OK"}})
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.2)
    now = datetime.datetime.now(datetime.timezone.utc)
    signed = {"webhook-id": "msg_storage", "webhook-timestamp": str(int(now.timestamp())),
              "webhook-signature": Webhook(SECRET).sign("msg_storage", now, body)}
    for headers in ({}, signed):
        request = urllib.request.Request(f"http://127.0.0.1:{port}/storage", data=body.encode(), method="POST",
                                         headers=dict(headers, **{"Content-Type": "application/json"}))
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                answers.append(response.status)
        except urllib.error.HTTPError as exc:
            answers.append(exc.code)


@pytest.fixture
def webhooks(tmp_path):
    """Two receivers on loopback that check signatures themselves: CloudEvents (every
    event) and Alertmanager (alarms only); the -e file that points a run at them."""
    made = [Receiver(SECRET).start(), Receiver(SECRET).start()]
    extra = tmp_path / "webhooks.json"
    extra.write_text(json.dumps({"escalator_webhooks": [
        {"name": "events", "url": made[0].url + "/events", "secret": SECRET},
        {"name": "alarms", "url": made[1].url + "/alarms", "secret": SECRET, "format": "alertmanager"}]}))
    yield made[0], made[1], f"@{extra}"
    for receiver in made:
        receiver.stop()


def test_a_failing_pair_is_restored_and_the_run_stops_with_its_report_and_no_lock(tmp_path, webhooks):
    events, alarms, extra = webhooks
    port = free_port()
    root = cloud.build(tmp_path, names=cloud.SMALL, wait={"port": port, "secret": SECRET})
    (root / "fail" / "glance@h02").touch()
    proc = run(root, "upgrade.yml", "-e", extra, "-vvv")
    assert proc.returncode == 2
    assert SECRET not in proc.stdout + proc.stderr and SECRET[6:] not in proc.stdout + proc.stderr
    # The webhooks heard the run start, Keystone finish, Glance's node fail and be restored,
    # and the run stop, in that order, every delivery signed.
    assert all(d["verified"] for d in events.deliveries + alarms.deliveries)
    sent = events.verified()
    assert [e["type"].rsplit(".", 1)[1] for e in sent] == ["run_started", "component_done", "node_restored",
                                                           "run_stopped"]
    assert sent[1]["data"]["component"] == "keystone" and sent[2]["subject"] == "glance/h02"
    assert sent[2]["data"]["data"]["result"] == "failed, restored" and sent[2]["data"]["data"]["step"] == "upgrade"
    assert len({e["data"]["run_id"] for e in sent}) == 1
    assert [a["alerts"][0]["labels"]["alertname"] for a in alarms.verified()] == [
        "EscalatorNodeRestored", "EscalatorRunStopped"]
    assert {a["alerts"][0]["labels"]["code"] for a in alarms.verified()} == {"ESC-UPGRADE-001"}
    assert "run upgrade.yml again" in alarms.verified()[1]["alerts"][0]["annotations"]["description"]
    assert "[ESC-UPGRADE-001] Upgrade of glance on h02 to 2.0 failed at upgrade" in flat(proc)
    assert "run upgrade.yml again to resume" in flat(proc)
    (report,) = reports(root)
    assert report["nodes"]["glance@h02"]["result"] == "failed, restored"
    assert report["stop"]["kind"] == "node" and report["stop"]["pairs"] == ["glance@h02"]
    assert report["code"] == report["nodes"]["glance@h02"]["code"] == "ESC-UPGRADE-001"
    # The status file, the audit log, the report and the alarms tell the same run.
    runs = root / "state" / "runs"
    status = json.loads((runs / f"{report['run_id']}.status.json").read_text())
    audit = [json.loads(line) for line in (runs / f"{report['run_id']}.audit.jsonl").read_text().splitlines()]
    assert status["code"] == "ESC-UPGRADE-001" and status["failed"] == ["glance@h02"]
    assert {k: v["result"] for k, v in status["nodes"].items()} == {k: v["result"] for k, v in report["nodes"].items()}
    results = {(e["component"], e["object"]): e["result"] for e in audit if e["action"] == "node"}
    assert results == {(v["component"], v["host"]): v["result"] for v in report["nodes"].values()
                       if v["result"] != "not reached"}
    (failed,) = [e for e in audit if e["action"] == "node" and e["code"]]
    assert failed["object"] == "h02" and failed["code"] == "ESC-UPGRADE-001" and failed["result"] == "failed, restored"
    assert [e["action"] for e in audit if e["object"] == "h02" and e["component"] == "glance"][:6] == [
        "drain", "drain", "snapshot", "snapshot", "upgrade", "upgrade"]
    assert audit[-1]["action"] == "run" and audit[-1]["result"] == "stopped" and audit[-1]["code"] == "ESC-UPGRADE-001"
    assert all(e["run_id"] == report["run_id"] and e["user"] and e["time"].endswith("+00:00") for e in audit)
    assert versions(root, cloud.SMALL)[("glance", "h02")] == "1.0"
    assert versions(root, cloud.SMALL)[("keystone", "h02")] == "2.0"
    assert not (root / "state" / "lock").exists()
    assert not list((root / "state" / "drained").iterdir())
    # Fixed, the same command resumes and finishes; ceph-mon's after step waits until the
    # storage says it is healthy: an unsigned claim is refused, a signed one ends the wait.
    (root / "fail" / "glance@h02").unlink()
    answers = []
    sender = threading.Thread(target=notify_when_listening, args=(port, answers), daemon=True)
    sender.start()
    proc = run(root, "upgrade.yml", "-e", extra)
    sender.join(timeout=5)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr
    assert answers == [401, 200]
    assert "rejected a request from 127.0.0.1: unsigned" in " ".join((proc.stdout + proc.stderr).split())
    assert set(versions(root, cloud.SMALL).values()) == {"2.0"}
    assert reports(root)[-1]["nodes"]["keystone@h01"]["result"] == "already done"
    # Keystone was done already: no milestone for it this time.
    resumed = [(e["type"].rsplit(".", 1)[1], e["data"].get("component")) for e in events.verified()[4:]]
    assert resumed[0][0] == "run_started" and resumed[-1] == ("run_done", None)
    assert sorted(resumed[1:-1]) == [("component_done", "ceph-mon"), ("component_done", "glance")]
    assert len(alarms.verified()) == 2


def test_a_step_judged_by_its_output_stops_the_run_before_its_component(tmp_path):
    """Glance's check exits 1 either way: accepted with only a warning, refused when its
    output names a failure, before any glance node is touched."""
    root = cloud.build(tmp_path, names=cloud.SMALL)
    (root / "fail" / "glance-check").touch()
    proc = run(root, "upgrade.yml")
    assert proc.returncode == 2
    assert "[ESC-STEP-001] glance: the steps before the first node failed, no node of it was touched" in flat(proc)
    assert "upgrade check: its output matches fail_if 'Result: Failure': Check: cells | Result: Failure" in flat(proc)
    assert set(versions(root, ["glance"]).values()) == {"1.0"}
    assert set(versions(root, ["keystone"]).values()) == {"2.0"}
    assert not (root / "state" / "lock").exists()


def test_after_steps_that_failed_run_again_on_the_next_run(tmp_path):
    """Every glance node is done when its after steps fail: the next run, though it has no
    node left to upgrade, runs those steps again (their marker says so), then forgets them."""
    root = cloud.build(tmp_path, names=cloud.SMALL)
    (root / "fail" / "glance-once").touch()
    proc = run(root, "upgrade.yml")
    assert proc.returncode == 2
    assert "[ESC-STEP-002] glance: every node runs 2.0 but the steps after the last node failed" in flat(proc)
    assert "once: on h02 exited with 1 (accepted: 0)" in flat(proc)
    assert set(versions(root, ["keystone", "glance"]).values()) == {"2.0"}
    assert [p.name for p in (root / "state" / "pending").iterdir()] == ["glance"]
    assert not (root / "state" / "lock").exists() and not list((root / "state" / "drained").iterdir())
    (root / "fail" / "glance-once").unlink()
    before = len(cloud.events(root))
    proc = run(root, "upgrade.yml")
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr
    nodes = reports(root)[-1]["nodes"]
    assert {n["result"] for k, n in nodes.items() if not k.startswith("ceph-mon@")} == {"already done"}
    assert set(versions(root, cloud.SMALL).values()) == {"2.0"}
    assert (root / "h02.glance-once").exists()
    again = [(kind, host) for _t, kind, host, comp in cloud.events(root)[before:] if comp == "glance"]
    assert again == [("step-out", "h01"), ("in", "h01"), ("step-out", "h02"), ("in", "h02"),
                     ("step-out", "h03"), ("in", "h03")]
    assert not list((root / "state" / "pending").iterdir())
    # Settled: a third run has nothing to do.
    events = cloud.events(root)
    assert run(root, "upgrade.yml").returncode == 0 and cloud.events(root) == events


def test_a_host_a_failed_step_left_out_of_service_is_put_back_by_the_next_run(tmp_path):
    root = cloud.build(tmp_path, names=cloud.SMALL)
    (root / "fail" / "glance-after@h02").touch()
    proc = run(root, "upgrade.yml")
    assert proc.returncode == 2
    assert ("h02 was left out of service (command) for on every controller: once it is repaired, run upgrade.yml "
            "again, which puts it back and runs the step again") in flat(proc)
    # h01 had its turn and is back; h02 stays out, with its node's marker; h03 never went.
    assert sorted(str(p.relative_to(root / "hosts")) for p in (root / "hosts").glob("*/glance.out")) == ["h02/glance.out"]
    assert [p.name for p in (root / "state" / "drained").iterdir()] == ["glance@h02"]
    assert [p.name for p in (root / "state" / "pending").iterdir()] == ["glance"]
    assert not (root / "state" / "lock").exists()
    (root / "fail" / "glance-after@h02").unlink()
    before = len(cloud.events(root))
    proc = run(root, "upgrade.yml")
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr
    again = [(kind, host) for _t, kind, host, comp in cloud.events(root)[before:] if comp == "glance"]
    # The pair's own resume puts h02 back, then the after steps run again on every controller.
    assert again == [("in", "h02"), ("step-out", "h01"), ("in", "h01"), ("step-out", "h02"), ("in", "h02"),
                     ("step-out", "h03"), ("in", "h03")]
    assert not list((root / "hosts").glob("*/glance.out"))
    assert not list((root / "state" / "drained").iterdir()) and not list((root / "state" / "pending").iterdir())
    assert (root / "h03.glance-after").exists()


def test_a_refused_plan_leaves_no_lock_and_names_the_field(tmp_path):
    root = cloud.build(tmp_path, names=cloud.SMALL)
    text = (root / "campaign.yml").read_text().replace("max_unavailable: 1\n", "max_unavailable: 0\n", 1)
    (root / "campaign.yml").write_text(text)
    proc = run(root, "upgrade.yml")
    assert proc.returncode == 2
    assert "components[0].redundancy.max_unavailable: must be at least 1" in flat(proc)
    assert "[ESC-PLAN-001] The run was refused when planning" in flat(proc)
    assert "Nothing in service was changed" in flat(proc)
    assert not (root / "state" / "lock").exists()
    assert cloud.events(root) == []


def test_rollback_all_puts_back_every_pair_the_run_upgraded(tmp_path):
    root = cloud.build(tmp_path, names=cloud.SMALL, on_failure="rollback_all")
    (root / "fail" / "glance@h03").touch()
    proc = run(root, "upgrade.yml")
    assert proc.returncode == 2
    assert "the pairs it upgraded were rolled back" in flat(proc)
    assert set(versions(root, cloud.SMALL).values()) == {"1.0"}
    nodes = reports(root)[-1]["nodes"]
    assert nodes["keystone@h01"]["result"] == "upgraded, then rolled back"
    assert nodes["glance@h03"]["result"] == "failed, restored"
    assert nodes["ceph-mon@h12"]["result"] == "not reached"
    assert not (root / "state" / "lock").exists()


def test_excluded_hosts_are_left_out_and_count_against_budgets(tmp_path):
    root = cloud.build(tmp_path, names=("keystone",))
    # One of three out already: max_unavailable 1 leaves nothing for the run.
    proc = run(root, "upgrade.yml", "-e", "escalator_exclude=h03")
    assert proc.returncode == 2
    assert "group 'keystone targets' (3 hosts, 1 already down) allows 0 out at once" in flat(proc)
    text = (root / "campaign.yml").read_text().replace("max_unavailable: 1\n", "max_unavailable: 2\n", 1)
    (root / "campaign.yml").write_text(text)
    proc = run(root, "upgrade.yml", "-e", "escalator_exclude=h03")
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr
    assert versions(root, ("keystone",)) == {("keystone", "h01"): "2.0", ("keystone", "h02"): "2.0",
                                             ("keystone", "h03"): "1.0"}
    proc = run(root, "upgrade.yml", "-e", "escalator_exclude=h99")
    assert proc.returncode == 2 and "down_hosts: h99 not in the inventory" in flat(proc)


def test_an_unreachable_target_refuses_the_run_with_a_report_and_no_lock(tmp_path):
    root = cloud.build(tmp_path, names=("keystone",))
    inventory = (root / "hosts.yml").read_text().replace(
        "    h03: {}", "    h03: {ansible_connection: ssh, ansible_host: 127.0.0.1, ansible_port: 9, ansible_timeout: 3}")
    (root / "hosts.yml").write_text(inventory)
    proc = run(root, "upgrade.yml")
    assert proc.returncode == 4  # Ansible's code for a run where a host was unreachable
    assert "keystone@h03 became unreachable or crashed during its first step" in flat(proc)
    assert "[ESC-PREFLIGHT-001]" in flat(proc)
    assert "Nothing in service was changed" in flat(proc)
    (report,) = reports(root)
    assert report["nodes"]["keystone@h03"]["result"] == "lost from the run during its first step, left as it was"
    assert report["nodes"]["keystone@h01"]["result"] == "not reached"
    assert not (root / "state" / "lock").exists()
    assert cloud.events(root) == []


def test_a_killed_run_leaves_a_lock_the_next_run_takes_over_and_resumes(tmp_path):
    root = cloud.build(tmp_path, names=("keystone",))
    # A run killed (SIGKILL) in its second batch: the lock, its plan, one pair done.
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               PATH=f"{pathlib.Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    proc = subprocess.Popen(["ansible-playbook", "-i", str(root / "hosts.yml"), str(ROOT / "playbooks" / "upgrade.yml"),
                             "-e", f"escalator_state_dir={root / 'state'}"], cwd=root, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        for dummy in range(600):
            if any(kind == "upgrade" for _t, kind, _h, _c in cloud.events(root)):
                break
            time.sleep(0.1)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert (root / "state" / "lock").exists()
    (killed,) = [p.name.split(".")[0] for p in (root / "state" / "runs").glob("*.plan.json")]
    proc = run(root, "upgrade.yml")
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr
    assert f"The lock was left by run {killed} by " in flat(proc) and "whose process is gone" in flat(proc)
    assert set(versions(root, ("keystone",)).values()) == {"2.0"}
    interrupted = json.loads((root / "state" / "runs" / f"{killed}.report.json").read_text())
    assert interrupted["interrupted"] is True and "took over its lock" in interrupted["stopped"]
    assert not (root / "state" / "lock").exists()
    # The resuming run names the run it resumed; its rollback puts back only its own pairs
    # and names the interrupted run as the next to roll back, which brings back the rest.
    resumed = reports(root)[-1]
    assert resumed["resumes"] == killed and resumed["run_id"] != killed
    proc = run(root, "rollback.yml", "-e", f"escalator_run_id={resumed['run_id']}")
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr
    assert f"Run rollback.yml -e escalator_run_id={killed} next" in flat(proc)
    assert reports(root, "rollback")[-1]["resumes"] == killed
    proc = run(root, "rollback.yml", "-e", f"escalator_run_id={killed}")
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr
    assert set(versions(root, ("keystone",)).values()) == {"1.0"}
    assert reports(root, "rollback")[-1]["resumes"] is None and " next." not in flat(proc)


def test_runs_kept_on_a_state_host_are_seen_from_a_fresh_controller(tmp_path):
    """escalator_state_host: the lock and the runs live on an inventory host (here "keeper",
    on the local connection), so each run may start from a controller with no state of its
    own, as AWX's job containers do."""
    root = cloud.build(tmp_path, names=("keystone",))
    inventory = (root / "hosts.yml").read_text().replace("  hosts:\n", "  hosts:\n    keeper: {}\n", 1)
    (root / "hosts.yml").write_text(inventory)
    kept = root / "state"  # escalator_state_dir: the directory on the state host

    def controller(name, playbook, *extra):
        return run(root, playbook, "-e", "escalator_state_host=keeper", *extra,
                   env={"ESCALATOR_STATE_DIR": str(root / name)})

    # A lock held on the state host by a run on another machine refuses the run.
    (kept / "lock").mkdir(parents=True)
    (kept / "lock" / "owner").write_text("run elsewhere\n")
    (kept / "lock" / "process").write_text("awx-job-7/0123 42 99\n")
    proc = controller("ctl-a", "upgrade.yml")
    assert proc.returncode == 2
    assert f"Another run holds the lock {kept}/lock (owner: run elsewhere" in flat(proc)
    assert "[ESC-LOCK-001]" in flat(proc)
    assert cloud.events(root) == [] and (kept / "lock" / "owner").read_text() == "run elsewhere\n"
    (refused,) = (kept / "runs").glob("*.report.json")
    shutil.rmtree(kept / "lock")

    proc = controller("ctl-a", "upgrade.yml")
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr
    assert set(versions(root, ("keystone",)).values()) == {"2.0"}
    (run_id,) = {p.name.split(".")[0] for p in (kept / "runs").glob("*.plan.json")} - {refused.name.split(".")[0]}
    assert json.loads((kept / "runs" / f"{run_id}.report.json").read_text())["nodes"]["keystone@h01"]["version"] == "2.0"
    copy = root / "ctl-a" / "hosts" / "keeper"
    assert sorted(p.name for p in (copy / "runs").iterdir()) == sorted(p.name for p in (kept / "runs").iterdir())
    assert not (kept / "lock").exists() and not (copy / "lock").exists()
    assert list((kept / "drained").iterdir()) == []

    # A controller that never saw the run finds it on the state host and rolls it back.
    proc = controller("ctl-b", "rollback.yml", "-e", f"escalator_run_id={run_id}")
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr
    assert set(versions(root, ("keystone",)).values()) == {"1.0"}
    rollback = json.loads((kept / "runs" / f"{run_id}.rollback.json").read_text())
    assert {n["result"] for n in rollback["nodes"].values()} == {"upgraded, then rolled back"}

    # A state host that cannot be reached refuses the run before anything is touched.
    before = cloud.events(root)
    (root / "hosts.yml").write_text(inventory.replace(
        "    keeper: {}", "    keeper: {ansible_connection: ssh, ansible_host: 127.0.0.1, ansible_port: 9, ansible_timeout: 3}"))
    proc = controller("ctl-c", "upgrade.yml")
    assert proc.returncode == 2
    assert "keeper keeps the run state and cannot be reached" in flat(proc)
    assert cloud.events(root) == before


def test_with_keystone_admin_control_only_a_user_with_the_role_may_start_and_is_recorded(tmp_path):
    """Keystone (a stand-in here; the lab's test uses the real one) is asked before anything
    is planned or locked: a token without the role is refused, with it the run goes on and
    its user is in the lock's owner, the report and the audit log."""
    root = cloud.build(tmp_path, names=("keystone",))
    without, with_role = FakeKeystone(body(["member"])), FakeKeystone(body(["admin"]))
    try:
        auth = ["-e", "escalator_auth=keystone", "-e", f"escalator_auth_token={TOKEN}"]
        url = "http://127.0.0.1:{}/v3"
        proc = run(root, "upgrade.yml", *auth, "-e", f"escalator_auth_url={url.format(without.server_address[1])}")
        assert proc.returncode == 2
        assert ("[ESC-AUTH-001] escalator_auth keystone: user alice (domain Default) has no role admin on project admin"
                in flat(proc))
        assert TOKEN not in proc.stdout + proc.stderr
        assert cloud.events(root) == [] and not (root / "state" / "lock").exists()
        assert not (root / "state" / "runs").exists() or not list((root / "state" / "runs").glob("*.plan.json"))
        proc = run(root, "upgrade.yml", *auth, "-e", f"escalator_auth_url={url.format(with_role.server_address[1])}", "-v")
        assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr
        assert TOKEN not in proc.stdout + proc.stderr
        report = reports(root)[-1]
        assert report["user"] == "alice (Keystone, domain Default)"
        audit = (root / "state" / "runs" / f"{report['run_id']}.audit.jsonl").read_text().splitlines()
        assert {json.loads(line)["user"] for line in audit} == {"alice (Keystone, domain Default)"}
        assert f"lock_owner: run {report['run_id']} by alice (Keystone, domain Default)" in flat(proc)
        proc = run(root, "upgrade.yml", "-e", "escalator_auth=kerberos")
        assert proc.returncode == 2 and "[ESC-AUTH-001] escalator_auth: kerberos is not one of none, keystone" in flat(proc)
    finally:
        for server in (without, with_role):
            server.shutdown()
            server.server_close()
