"""Coordination with a workload's manager, on the Keystone part of the local cloud: the lab's
VNF manager (lab/vnfm.py, a real process) owns a VNF with a member on each host and is told
of each host's maintenance before it is taken out. Its answers drive the run: an ACK lets
the host go, a NACK, silence, a bad signature or a project with no manager give the
campaign's on_decline, and none of them leaves a host out of service or changed."""

import json
import pathlib
import sys

import pytest
import yaml

from test_engine_local import flat, reports, run, versions
from test_error_codes import audit, build, out_of_service

ROOT = pathlib.Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "tests" / "unit" / "plugins" / "action"))
from test_coordinate_playbook import SECRET, Vnfm, free_port  # noqa: E402  pylint: disable=wrong-import-position

MEMBERS = {"h01": "i-1", "h02": "i-2", "h03": "i-3"}


@pytest.fixture
def vnfm(tmp_path):
    made = Vnfm(tmp_path, list(MEMBERS.values()), "i-1")
    yield made
    made.proc.terminate()
    made.proc.wait(10)


def coordinated(tmp_path, vnfm, on_decline="fail", timeout="4s", extra_project=False):
    """The Keystone cloud with the VNF's member i-N on hN (and, with extra_project, a
    project without a manager on h01), told through the lab's VNFM."""
    root = build(tmp_path)
    for host, member in MEMBERS.items():
        found = {"vnf": [member]}
        if extra_project and host == "h01":
            found["other"] = ["x-1"]
        (root / f"instances@{host}.json").write_text(json.dumps(found))
    # The test may drop a hook run on a host just before its instances are listed.
    (root / "instances.sh").write_text(f'test ! -e {root}/hook-instances@$1 || sh {root}/hook-instances@$1\n'
                                       f'cat {root}/instances@$1.json\n')
    campaign = yaml.safe_load((root / "campaign.yml").read_text())
    campaign["components"][0]["coordination"] = {
        "projects": {"vnf": {"url": vnfm.url, "secret": "{{ vnfm_secret }}"}},
        "instances": {"command": f"sh {root}/instances.sh {{{{ escalator_host }}}}"},
        "listen": {"port": free_port()},
        "timeout": timeout,
        "on_decline": on_decline,
    }
    (root / "campaign.yml").write_text(yaml.safe_dump(campaign, sort_keys=False))
    return root


def upgrade(root):
    return run(root, "upgrade.yml", "-e", f"vnfm_secret={SECRET}")


def test_every_host_is_coordinated_in_order_the_active_member_never_on_a_host_in_maintenance_and_rollback_too(
        tmp_path, vnfm):
    root = coordinated(tmp_path, vnfm)
    proc = upgrade(root)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr
    assert set(versions(root, ("keystone",)).values()) == {"2.0"} and out_of_service(root) == []
    log = vnfm.log()
    told = [(r.get("host"), r["kind"], r["state"]) for r in log if r["kind"] in ("notification", "host")]
    for host in MEMBERS:
        assert [(k, s) for h, k, s in told if h == host] == [
            ("notification", "MAINTENANCE"), ("notification", "PLANNED_MAINTENANCE"),
            ("notification", "INSTANCE_ACTION_DONE"), ("host", "IN_MAINTENANCE"), ("host", "MAINTENANCE_COMPLETE"),
            ("notification", "MAINTENANCE_COMPLETE")], host
    # Hosts one after the other: each host's session ends before the next begins.
    assert [h for h, k, s in told if s == "MAINTENANCE" and k == "notification"] == ["h01", "h02", "h03"]
    for record in log:
        if record["kind"] == "host" and record["state"] == "IN_MAINTENANCE":
            assert record["active"] != MEMBERS[record["host"]], record
    assert [r["active"] for r in log if r["kind"] == "switched"] == ["i-2", "i-1"]
    (report,) = reports(root)
    exchanges = report["nodes"]["keystone@h01"]["coordination"]
    assert [(e["state"], e.get("reply")) for e in exchanges] == [
        ("MAINTENANCE", "ACK_MAINTENANCE"), ("PLANNED_MAINTENANCE", "ACK_PLANNED_MAINTENANCE"),
        ("INSTANCE_ACTION_DONE", None), ("IN_MAINTENANCE", None), ("MAINTENANCE_COMPLETE", None),
        ("MAINTENANCE_COMPLETE", "ACK_MAINTENANCE_COMPLETE")] or exchanges
    assert all(0 < e["latency_s"] < 4 for e in exchanges if e.get("reply")), exchanges
    events = [e for e in audit(root, report["run_id"]) if e["action"] == "coordinate"]
    assert ("h02", "ACK_PLANNED_MAINTENANCE", "PLANNED_MAINTENANCE to vnf") in {
        (e["object"], e["result"], e["message"]) for e in events}
    texts = proc.stdout + proc.stderr + json.dumps(report) + json.dumps(events)
    assert SECRET not in texts and SECRET[6:] not in texts

    # A rollback takes each host out again: the manager is asked first, and its NACK
    # leaves the pairs as they are (not rolled back, named); with its ACK they go back.
    vnfm.mode("nack")
    proc = run(root, "rollback.yml", "-e", f"vnfm_secret={SECRET}")
    assert proc.returncode == 2, proc.stdout[-6000:] + proc.stderr
    assert "[ESC-ROLLBACK-002]" in flat(proc) and "the managers declined: vnf answered NACK_MAINTENANCE" in flat(proc)
    rolled = reports(root, "rollback")[-1]
    assert {n["result"] for n in rolled["nodes"].values()} == {"rollback failed at coordinate"}, rolled["nodes"]
    assert set(versions(root, ("keystone",)).values()) == {"2.0"} and out_of_service(root) == []
    vnfm.mode("ack")
    proc = run(root, "rollback.yml", "-e", f"vnfm_secret={SECRET}")
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr
    assert set(versions(root, ("keystone",)).values()) == {"1.0"} and out_of_service(root) == []
    assert [r["state"] for r in vnfm.log() if r["kind"] == "host"][-2:] == ["IN_MAINTENANCE", "MAINTENANCE_COMPLETE"]


@pytest.mark.parametrize("policy, code, words", [
    ("fail", "ESC-COORD-001", "vnf answered NACK_MAINTENANCE: policy fail"),
    ("pause", "ESC-COORD-002", "the run pauses here"),
])
def test_a_nack_stops_the_run_before_anything_changed(tmp_path, vnfm, policy, code, words):
    root = coordinated(tmp_path, vnfm, on_decline=policy)
    vnfm.mode("nack")
    proc = upgrade(root)
    assert proc.returncode == 2, proc.stdout[-6000:] + proc.stderr
    text = flat(proc)
    assert f"[{code}] The upgrade of keystone on h01 to 2.0 did not start" in text and words in text, text[-3000:]
    assert "run upgrade.yml again to resume" in text
    (report,) = reports(root)
    node = report["nodes"]["keystone@h01"]
    assert (node["result"], node["code"], report["code"]) == ("not started, nothing changed", code, code)
    assert report["nodes"]["keystone@h02"]["result"] == "not reached"
    assert set(versions(root, ("keystone",)).values()) == {"1.0"} and out_of_service(root) == []
    assert not (root / "state" / "lock").exists()
    # Only MAINTENANCE was asked; nothing was moved.
    assert [r["state"] for r in vnfm.log() if r["kind"] == "notification"] == ["MAINTENANCE"]


def test_skip_host_upgrades_the_others_stops_after_the_component_and_the_next_run_resumes(tmp_path, vnfm):
    root = coordinated(tmp_path, vnfm, on_decline="skip_host")
    vnfm.mode("nack")
    # h01 declines; h02 and h03 are asked with the manager agreeing.
    (root / "hook-instances@h02").write_text(f"echo ack > {vnfm.dir}/mode\n")
    proc = upgrade(root)
    assert proc.returncode == 2, proc.stdout[-6000:] + proc.stderr
    assert "[ESC-COORD-003] keystone: the managers kept h01 out of the maintenance" in flat(proc), flat(proc)[-3000:]
    (report,) = reports(root)
    assert report["nodes"]["keystone@h01"]["result"] == "skipped, left in service (skip_host)"
    assert [report["nodes"][f"keystone@{h}"]["result"] for h in ("h02", "h03")] == ["upgraded", "upgraded"]
    assert versions(root, ("keystone",)) == {("keystone", "h01"): "1.0", ("keystone", "h02"): "2.0",
                                             ("keystone", "h03"): "2.0"}
    assert out_of_service(root) == [] and not (root / "state" / "lock").exists()
    proc = upgrade(root)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr
    assert set(versions(root, ("keystone",)).values()) == {"2.0"}


@pytest.mark.parametrize("mode, rejected", [("silent", None), ("bad_signature", "bad signature")])
def test_no_acceptable_answer_in_time_is_a_decline(tmp_path, vnfm, mode, rejected):
    root = coordinated(tmp_path, vnfm, timeout="3s")
    vnfm.mode(mode)
    proc = upgrade(root)
    assert proc.returncode == 2, proc.stdout[-6000:] + proc.stderr
    assert "vnf did not answer within 3 s: policy fail" in flat(proc), flat(proc)[-3000:]
    (report,) = reports(root)
    assert report["nodes"]["keystone@h01"]["code"] == "ESC-COORD-001"
    assert set(versions(root, ("keystone",)).values()) == {"1.0"} and out_of_service(root) == []
    events = [(e["result"], e.get("message", "")) for e in audit(root, report["run_id"]) if e["action"] == "coordinate"]
    assert ("no answer", "MAINTENANCE to vnf") in events
    assert any(r == "rejected" for r, dummy in events) == bool(rejected)


def test_a_project_on_the_host_without_a_manager_is_a_decline_when_required(tmp_path, vnfm):
    root = coordinated(tmp_path, vnfm, extra_project=True)
    proc = upgrade(root)
    assert proc.returncode == 2, proc.stdout[-6000:] + proc.stderr
    assert ("project(s) other have instances on h01 and no manager in coordination.projects "
            "(coordination.required): policy fail") in flat(proc), flat(proc)[-3000:]
    assert set(versions(root, ("keystone",)).values()) == {"1.0"} and out_of_service(root) == []
    assert vnfm.log() == []  # nobody was told: the host's maintenance never began
