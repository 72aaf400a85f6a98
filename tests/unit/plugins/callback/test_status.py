"""The status callback's model fed as a run feeds it: steps, results, batches, the ETA
corrected by what finished batches took, the stop; and the file written atomically."""

import copy
import json

import pytest

from ansible_collections.opnfv.escalator.plugins.callback.status import RunStatus, write_status
from ansible_collections.opnfv.escalator.plugins.plugin_utils._campaign import validate
from ansible_collections.opnfv.escalator.plugins.plugin_utils._planner import build_plan

CAMPAIGN = {
    "name": "two", "canary": False,
    "components": [
        {"name": "keystone", "targets": "controllers", "version": "29.1.0", "expected_duration": 60,
         "artifact": {"type": "package", "name": "keystone"}, "redundancy": {"max_unavailable": 1}},
        {"name": "nova", "targets": "computes", "version": "32.1.0", "depends_on": ["keystone"],
         "expected_duration": 100, "artifact": {"type": "package", "name": "nova"},
         "redundancy": {"max_unavailable": 2}},
    ],
}
GROUPS = {"controllers": ["ctl1", "ctl2"], "computes": ["cmp1", "cmp2", "cmp3", "cmp4"]}


@pytest.fixture
def status():
    plan = build_plan(validate(copy.deepcopy(CAMPAIGN)), GROUPS)
    s = RunStatus(now=1000.0)
    s.on_play("Plan the run")
    assert s.on_facts("localhost", {"escalator_plan": plan, "escalator_state": {"dir": "/tmp/x"}}, 1001.0)
    s.on_play("Upgrade, batch by batch")
    return s


def upgrade(s, pair, start, end):
    comp, host = pair.split("@")
    for step, t in (("drain", start), ("snapshot", start + 1), ("upgrade", start + 2), ("verify", start + 3)):
        s.on_facts(pair, {"__runbook_step": step}, t)
    s.on_facts(pair, {"runbook_node": {"component": comp, "host": host, "result": "upgraded",
                                       "seconds": end - start}}, end)


def test_the_plan_gives_every_node_and_the_eta_is_the_plan_until_a_batch_finishes(status):
    data = status.as_dict(1001.0)
    assert data["run_id"] and data["phase"] == "upgrade" and data["running"] is True
    assert sorted(data["nodes"]) == ["keystone@ctl1", "keystone@ctl2", "nova@cmp1", "nova@cmp2", "nova@cmp3",
                                     "nova@cmp4"]
    assert [(c["component"], c["batches_total"]) for c in data["components"]] == [("keystone", 2), ("nova", 2)]
    assert data["eta_s"] == 2 * 60 + 2 * 100


def test_steps_results_and_an_eta_corrected_by_what_batches_took(status):
    assert status.on_facts("keystone@ctl1", {"__runbook_step": "drain"}, 1010.0)
    assert not status.on_facts("keystone@ctl1", {"__runbook_step": "drain"}, 1011.0)
    assert status.as_dict(1011.0)["nodes"]["keystone@ctl1"]["step"] == "drain"
    assert status.components()[0]["current_batch"] == 1
    # The first batch took 120 s where 60 were expected: what is left is expected to take twice as long.
    upgrade(status, "keystone@ctl1", 1010.0, 1130.0)
    data = status.as_dict(1130.0)
    assert data["nodes"]["keystone@ctl1"] == {"component": "keystone", "host": "ctl1", "step": "done",
                                              "result": "upgraded", "seconds": 120.0, "batch": 1, "code": None}
    assert data["components"][0]["batches_done"] == 1 and data["components"][0]["current_batch"] is None
    assert data["eta_s"] == pytest.approx(2 * (60 + 2 * 100))


def test_a_failed_node_shows_restore_then_its_result_and_the_stop(status):
    status.on_facts("keystone@ctl1", {"__runbook_step": "verify"}, 1010.0)
    status.on_facts("keystone@ctl1", {"__runbook_failed_step": "verify", "__runbook_outcome": "failed, restored"},
                    1020.0)
    assert status.nodes["keystone@ctl1"]["step"] == "restore"
    status.on_facts("keystone@ctl1", {"runbook_node": {"component": "keystone", "host": "ctl1", "code": "ESC-VERIFY-001",
                                                       "result": "failed, restored", "error": "check x failed"}}, 1030.0)
    status.on_facts("escalator-batch-1", {"runbook_stop": {"reason": "Upgrade of keystone on ctl1\n failed",
                                                           "code": "ESC-VERIFY-001"}}, 1031.0)
    status.on_play("Report")
    status.on_end(1040.0)
    data = status.as_dict(1041.0)
    assert data["failed"] == ["keystone@ctl1"] and data["stopped"] == "Upgrade of keystone on ctl1 failed"
    assert data["code"] == "ESC-VERIFY-001" and data["nodes"]["keystone@ctl1"]["code"] == "ESC-VERIFY-001"
    assert data["running"] is False and data["phase"] == "done" and data["elapsed_s"] == 40.0 and data["eta_s"] is None
    table = status.table(1041.0)
    assert "keystone@ctl1" in table and "failed, restored" in table and "stopped: Upgrade of keystone" in table
    assert "keystone                     1/2 batches" in table


def test_a_rollback_follows_the_rollback_pairs():
    plan = build_plan(validate(copy.deepcopy(CAMPAIGN)), GROUPS)
    s = RunStatus(now=0.0)
    s.on_play("Find the run, its plan and its campaign")
    s.on_facts("localhost", {"escalator_plan": plan}, 1.0)
    assert s.kind == "rollback" and len(s.nodes) == 6


def test_the_status_file_is_replaced_whole(tmp_path):
    write_status(tmp_path / "runs", "r1", {"a": 1})
    write_status(tmp_path / "runs", "r1", {"a": 2})
    assert json.loads((tmp_path / "runs" / "r1.status.json").read_text()) == {"a": 2}
    assert [p.name for p in (tmp_path / "runs").iterdir()] == ["r1.status.json"]


def test_the_audit_events_tell_each_step_with_its_duration_and_each_failure_with_its_code(status):
    status.user = "ops@ctl"
    status.events.clear()
    upgrade(status, "keystone@ctl1", 1010.0, 1130.0)
    status.on_facts("keystone@ctl2", {"__runbook_step": "drain"}, 1140.0)
    status.on_facts("keystone@ctl2", {"__runbook_step": "verify"}, 1150.0)
    status.on_facts("keystone@ctl2", {"__runbook_failed_step": "verify", "__runbook_outcome": "failed, restored",
                                      "__runbook_error": "Verify: check up failed"}, 1160.0)
    status.on_facts("keystone@ctl2", {"runbook_node": {"component": "keystone", "host": "ctl2", "seconds": 25,
                                                       "result": "failed, restored", "code": "ESC-VERIFY-001"}}, 1165.0)
    status.on_facts("escalator-batch-2", {"runbook_stop": {"reason": "stopped", "code": "ESC-VERIFY-001"}}, 1166.0)
    status.on_end(1170.0)
    got = [(e["object"], e["action"], e["result"], e["duration_s"], e["code"]) for e in status.events]
    assert got == [
        ("ctl1", "drain", "started", None, None), ("ctl1", "drain", "ok", 1.0, None),
        ("ctl1", "snapshot", "started", None, None), ("ctl1", "snapshot", "ok", 1.0, None),
        ("ctl1", "upgrade", "started", None, None), ("ctl1", "upgrade", "ok", 1.0, None),
        ("ctl1", "verify", "started", None, None), ("ctl1", "verify", "ok", 117.0, None),
        ("ctl1", "node", "upgraded", 120.0, None),
        ("ctl2", "drain", "started", None, None), ("ctl2", "drain", "ok", 10.0, None),
        ("ctl2", "verify", "started", None, None), ("ctl2", "verify", "failed", 10.0, None),
        ("ctl2", "restore", "started", None, None), ("ctl2", "restore", "ok", 5.0, None),
        ("ctl2", "node", "failed, restored", 25.0, "ESC-VERIFY-001"),
        ("two", "run", "stopped", None, "ESC-VERIFY-001"),
        ("two", "run", "stopped", 170.0, "ESC-VERIFY-001"),
    ]
    first = status.events[0]
    assert first["time"].endswith("+00:00") and first["user"] == "ops@ctl" and first["run_id"] == status.run_id
    assert first["campaign"] == "two" and first["component"] == "keystone"


def test_a_campaign_done_site_by_site_has_a_row_per_component_and_site():
    campaign = copy.deepcopy(CAMPAIGN)
    campaign["sites"] = {"match": "site_*", "one_at_a_time": True}
    groups = dict(GROUPS, site_a=["ctl1", "cmp1", "cmp2"], site_b=["ctl2", "cmp3", "cmp4"])
    s = RunStatus(now=1000.0)
    s.on_play("Plan the run")
    s.on_facts("localhost", {"escalator_plan": build_plan(validate(campaign), groups)}, 1001.0)
    s.on_play("Upgrade, batch by batch")
    upgrade(s, "keystone@ctl1", 1010.0, 1020.0)
    rows = [(c["component"], c["site"], c["batches_done"], c["batches_total"]) for c in s.components()]
    assert rows == [("keystone", "site_a", 1, 1), ("keystone", "site_b", 0, 1),
                    ("nova", "site_a", 0, 1), ("nova", "site_b", 0, 1)]
    assert "keystone @site_a" in s.table(1021.0) and "1/1 batches" in s.table(1021.0)


def test_without_sites_the_rows_name_none(status):
    assert [c["site"] for c in status.components()] == [None, None]
    assert "@" not in status.table(1002.0).splitlines()[1]
