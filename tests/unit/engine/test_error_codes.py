"""Each failure path of a node's upgrade, on the Keystone part of the local cloud, ends the
run with its own error code from the catalogue, in the output, the report and the audit
log, and leaves the node as the code's description says."""

import json
import socketserver
import threading

import pytest
import yaml

import cloud
from test_engine_local import flat, reports, run, versions

HOST = "{{ escalator_host }}"

# Before the operator's tasks: a hook script the test may drop for a host, and a step
# that hangs while its marker is there.
UPGRADE_TASKS = """\
- name: Run the test's hook for this host
  ansible.builtin.shell: "test ! -e {root}/hook@{host} || sh {root}/hook@{host}"
  changed_when: false
- name: Hang while this host is marked to
  ansible.builtin.shell: "test ! -e {root}/fail/hang@{host} || sleep 300"
  changed_when: false
"""


def build(tmp_path):
    """The Keystone cloud (h01 the canary, then h02, h03) with a failure to inject at each
    step: fail/enter@H (taking H out), fail/exit-once@H (putting H back, once),
    fail/verify@H (its checks), fail/hang@H (a step that never ends); the step's time limit
    is 15 s (5 s expected, margin 3)."""
    root = cloud.build(tmp_path, names=("keystone",))
    campaign = yaml.safe_load((root / "campaign.yml").read_text())
    (keystone,) = campaign["components"]
    keystone["expected_duration"] = "5s"
    settings = keystone["maintenance"]["settings"]
    settings["enter"] = f"test ! -e {root}/fail/enter@{HOST} || exit 3; " + settings["enter"]
    once = f"{root}/fail/exit-once@{HOST}"
    settings["exit"] = f"if [ -e {once} ]; then rm -f {once}; exit 3; fi; " + settings["exit"]
    keystone["verify"].append({"name": "not marked to fail", "type": "command",
                               "command": f"test ! -e {root}/fail/verify@{HOST}"})
    (root / "campaign.yml").write_text(yaml.safe_dump(campaign, sort_keys=False))
    (root / "upgrade.yml").write_text(UPGRADE_TASKS.format(root=root, host=HOST) + cloud.UPGRADE_TASKS)
    return root


def audit(root, run_id):
    return [json.loads(line) for line in (root / "state" / "runs" / f"{run_id}.audit.jsonl").read_text().splitlines()]


def out_of_service(root):
    return sorted(p.parent.name for p in (root / "hosts").glob("*/keystone.out"))


def assert_stopped_with(root, proc, code, result):
    """The run stopped at the canary h01 with this code everywhere it is told."""
    assert proc.returncode == 2, proc.stdout[-6000:] + proc.stderr
    assert f"[{code}] Upgrade of keystone on h01 to 2.0 failed at" in flat(proc), flat(proc)[-3000:]
    (report,) = reports(root)
    node = report["nodes"]["keystone@h01"]
    assert (node["result"], node["code"], report["code"]) == (result, code, code), node
    assert report["nodes"]["keystone@h02"]["result"] == "not reached"
    events = audit(root, report["run_id"])
    assert [(e["object"], e["code"]) for e in events if e["action"] == "node"] == [("h01", code)]
    assert events[-1]["action"] == "run" and events[-1]["code"] == code
    assert not (root / "state" / "lock").exists()
    return node


@pytest.mark.parametrize("marker, code, step", [
    ("enter", "ESC-DRAIN-002", "drain"),
    ("exit-once", "ESC-DRAIN-003", "undrain"),
])
def test_a_node_that_cannot_be_taken_out_or_put_back_is_restored_and_serves(tmp_path, marker, code, step):
    root = build(tmp_path)
    (root / "fail" / f"{marker}@h01").touch()
    node = assert_stopped_with(root, run(root, "upgrade.yml"), code, "failed, restored")
    assert node["step"] == step
    assert versions(root, ("keystone",))[("keystone", "h01")] == "1.0" and out_of_service(root) == []


def test_a_snapshot_that_fails_leaves_the_node_unchanged_and_serving(tmp_path):
    root = build(tmp_path)
    campaign = yaml.safe_load((root / "campaign.yml").read_text())
    # Not a venv on h01 (the canary): its snapshot cannot be taken.
    campaign["components"][0]["snapshot"]["venvs"] = [f"{root}/hosts/{HOST}/no-venv"]
    (root / "campaign.yml").write_text(yaml.safe_dump(campaign, sort_keys=False))
    proc = run(root, "upgrade.yml")
    node = assert_stopped_with(root, proc, "ESC-SNAPSHOT-001", "failed, restored")
    assert "is not a Python virtual environment" in node["error"]
    assert set(versions(root, ("keystone",)).values()) == {"1.0"} and out_of_service(root) == []
    assert not any(kind == "upgrade" for _t, kind, _h, _c in cloud.events(root))


def test_a_hung_step_is_stopped_at_its_limit_and_the_node_restored(tmp_path):
    root = build(tmp_path)
    (root / "fail" / "hang@h01").touch()
    node = assert_stopped_with(root, run(root, "upgrade.yml"), "ESC-UPGRADE-002", "failed, restored")
    assert "Timed out after 15 second" in node["error"]
    assert versions(root, ("keystone",))[("keystone", "h01")] == "1.0" and out_of_service(root) == []


def test_a_node_whose_restore_fails_too_is_left_out_of_service(tmp_path):
    """Its checks fail after the upgrade and again after the restore: it stays out."""
    root = build(tmp_path)
    # Marked once past its preflight, which runs the same checks.
    (root / "hook@h01").write_text(f"touch {root}/fail/verify@h01\n")
    node = assert_stopped_with(root, run(root, "upgrade.yml"), "ESC-RESTORE-001",
                               "failed, restore failed, left drained")
    assert "then" in node["error"]
    assert out_of_service(root) == ["h01"]


def test_a_node_lost_in_mid_upgrade_is_left_as_it_was(tmp_path):
    """h01 becomes unreachable during its upgrade (its temporary directory cannot be made
    any more, which Ansible reports as an unreachable host): the run stops with the node
    left as it was, out of service, and no other node touched."""
    root = build(tmp_path)
    inventory = (root / "hosts.yml").read_text().replace(
        "    h01: {}", f"    h01: {{ansible_remote_tmp: {root}/rtmp/h01}}")
    (root / "hosts.yml").write_text(inventory)
    (root / "hook@h01").write_text(f"mkdir -p {root}/rtmp && rm -rf {root}/rtmp/h01 && touch {root}/rtmp/h01\n")
    proc = run(root, "upgrade.yml")
    assert proc.returncode == 4, proc.stdout[-6000:] + proc.stderr  # a host was unreachable
    assert "[ESC-NODE-001] keystone@h01 became unreachable or crashed during upgrade. Fix the cause" in flat(proc), \
        flat(proc)[-3000:]
    (report,) = reports(root)
    assert report["code"] == "ESC-NODE-001"
    assert report["nodes"]["keystone@h01"]["result"].startswith("lost from the run")
    assert report["nodes"]["keystone@h02"]["result"] == "not reached"
    assert out_of_service(root) == ["h01"]
    assert not (root / "state" / "lock").exists()


def test_a_pair_that_cannot_be_rolled_back_is_named_and_the_others_are(tmp_path):
    root = build(tmp_path)
    assert run(root, "upgrade.yml").returncode == 0
    (root / "fail" / "enter@h02").touch()
    proc = run(root, "rollback.yml")
    assert proc.returncode == 2, proc.stdout[-6000:]
    assert "[ESC-ROLLBACK-002] 1 pair(s) could not be rolled back: Rollback of keystone on h02 failed" in flat(proc), \
        flat(proc)[-3000:]
    assert "run rollback.yml -e escalator_run_id=" in flat(proc)
    report = reports(root, "rollback")[-1]
    assert report["code"] == report["nodes"]["keystone@h02"]["code"] == "ESC-ROLLBACK-002"
    # The other pairs were rolled back; the status file and the audit log end the same way.
    assert versions(root, ("keystone",)) == {("keystone", "h01"): "1.0", ("keystone", "h02"): "2.0",
                                             ("keystone", "h03"): "1.0"}
    status = json.loads((root / "state" / "runs" / f"{report['run_id']}.status.json").read_text())
    assert status["code"] == "ESC-ROLLBACK-002"
    events = audit(root, report["run_id"])
    assert (events[-1]["action"], events[-1]["result"], events[-1]["code"]) == ("run", "stopped", "ESC-ROLLBACK-002")
    assert report["nodes"]["keystone@h02"]["result"] == "rollback failed at rollback, left drained"
    assert not (root / "state" / "lock").exists()


def test_a_report_the_state_host_cannot_keep_is_kept_on_the_controller(tmp_path):
    """The host that keeps the run state loses its runs directory in mid-run: the report
    is kept on the controller and the run says where, with ESC-STATE-001."""
    root = build(tmp_path)
    inventory = (root / "hosts.yml").read_text().replace("  hosts:\n", "  hosts:\n    keeper: {}\n", 1)
    (root / "hosts.yml").write_text(inventory)
    kept = root / "state"
    (root / "hook@h03").write_text(f"rm -rf {kept}/runs && touch {kept}/runs\n")
    proc = run(root, "upgrade.yml", "-e", "escalator_state_host=keeper", env={"ESCALATOR_STATE_DIR": str(root / "ctl")})
    assert "[ESC-STATE-001]" in flat(proc), flat(proc)[-3000:]
    assert proc.returncode == 2
    assert set(versions(root, ("keystone",)).values()) == {"2.0"}
    (report,) = (root / "ctl" / "hosts" / "keeper" / "runs").glob("*.report.json")
    assert json.loads(report.read_text())["nodes"]["keystone@h03"]["result"] == "upgraded"


def test_a_stop_the_engine_did_not_classify_says_so(tmp_path):
    """The report role's last word for a stop that carries no code: ESC-RUN-001."""
    (tmp_path / "hosts.yml").write_text("all: {}\n")
    playbook = tmp_path / "stop.yml"
    playbook.write_text(yaml.safe_dump([{
        "name": "Report a run stopped without a code", "hosts": "localhost", "gather_facts": False,
        "roles": [{"role": "opnfv.escalator.report", "report_dir": str(tmp_path / "runs"),
                   "report_plan": {"run_id": "20260101T000000Z-00000000", "campaign": {"name": "c"}, "run_hosts": []},
                   "report_stop": {"kind": "other", "reason": "something nobody foresaw"}}]}]))
    proc = run(tmp_path, str(playbook))
    assert proc.returncode == 2, proc.stdout[-3000:] + proc.stderr
    assert "[ESC-RUN-001] something nobody foresaw" in flat(proc)
    report = json.loads((tmp_path / "runs" / "20260101T000000Z-00000000.report.json").read_text())
    assert report["stopped"] == "something nobody foresaw"


class FakeLoadBalancer(socketserver.ThreadingUnixStreamServer):
    """HAProxy's runtime API on a unix socket, enough for the engine: `show servers state`,
    `show stat` and `set server`, for one backend (keystone) of h01-h03. A server is DOWN
    while down_when(name) is true."""

    daemon_threads = True

    def __init__(self, path, down_when):
        self.servers = {name: {"admin": 0, "op": 2} for name in cloud.GROUPS["ctl"]}
        self.down_when = down_when
        self.lock = threading.Lock()
        super().__init__(str(path), LoadBalancerRequest)

    def answer(self, command):
        words = command.split()
        with self.lock:
            if command.startswith("show servers state"):
                rows = [f"3 keystone {i} {name} 127.0.0.{i} {0 if self.down_when(name) else s['op']} {s['admin']} "
                        "1 1 10 6 3 4 6 0 0 0 - 5000 -" for i, (name, s) in enumerate(sorted(self.servers.items()), 1)]
                return "1\n# be_id be_name srv_id srv_name ...\n" + "\n".join(rows) + "\n"
            if command == "show stat":
                return "# pxname,svname,qcur,qmax,scur\n" + "".join(
                    f"keystone,{name},0,0,0\n" for name in sorted(self.servers))
            if command.startswith("set server") and len(words) == 5:
                server = self.servers[words[2].split("/")[1]]
                server.update({"drain": {"admin": 0x08}, "maint": {"admin": 0x01, "op": 0},
                               "ready": {"admin": 0, "op": 2}}[words[4]])
                return "\n"
        return "Unknown command\n"


class LoadBalancerRequest(socketserver.StreamRequestHandler):
    def handle(self):
        self.wfile.write(self.server.answer(self.rfile.readline().decode().strip()).encode())


def test_the_guard_leaves_a_node_in_service_when_its_peers_do_not_serve(tmp_path):
    """h02 goes down at the load balancer once the run is under way (after its preflight,
    which would refuse the run): the guard keeps the canary h01 in service and nothing is
    changed."""
    root = build(tmp_path)
    lb = FakeLoadBalancer(tmp_path / "lb.sock", lambda name: name == "h02" and (root / "fail" / "peer-down").exists())
    threading.Thread(target=lb.serve_forever, daemon=True).start()
    try:
        campaign = yaml.safe_load((root / "campaign.yml").read_text())
        keystone = campaign["components"][0]
        keystone["maintenance"] = {"backend": "haproxy", "settings": {
            "lb_group": "lb", "socket": str(tmp_path / "lb.sock"), "backend": "keystone", "timeout": 30}}
        # The step before the first node (a touch, run without a shell) marks h02 down.
        keystone["phases"]["before"][0]["command"] += f" {root}/fail/peer-down"
        (root / "campaign.yml").write_text(yaml.safe_dump(campaign, sort_keys=False))
        inventory = yaml.safe_load((root / "hosts.yml").read_text())
        inventory["all"]["hosts"]["lb"] = {}
        inventory["all"]["children"]["lb"] = {"hosts": {"lb": {}}}
        (root / "hosts.yml").write_text(yaml.safe_dump(inventory, sort_keys=False))
        node = assert_stopped_with(root, run(root, "upgrade.yml"), "ESC-DRAIN-001", "not started, nothing changed")
        assert node["step"] == "guard" and "h02" in node["error"], node
        assert lb.servers["h01"] == {"admin": 0, "op": 2}
        assert set(versions(root, ("keystone",)).values()) == {"1.0"}
    finally:
        lb.shutdown()
        lb.server_close()
