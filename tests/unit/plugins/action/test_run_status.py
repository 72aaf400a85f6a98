"""run_status: the run under way or the last one, what failed, and what running
upgrade.yml again would do; and playbooks/status.yml printing it."""

import json
import os
import pathlib
import subprocess
import sys

import pytest

from ansible_collections.opnfv.escalator.plugins.action.run_status import describe
from ansible_collections.opnfv.escalator.plugins.module_utils._run_state import RunState, process_identity

ROOT = pathlib.Path(__file__).resolve().parents[4]
PLAN = {"run_id": "r2", "campaign": {"name": "lab"}, "run_hosts": [
    {"name": "keystone@ctl1", "host": "ctl1"}, {"name": "keystone@ctl2", "host": "ctl2"},
    {"name": "escalator-batch-1", "host": None}, {"name": "nova@cmp1", "host": "cmp1"}]}


@pytest.fixture
def state(tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    (runs / "r1.plan.json").write_text(json.dumps(dict(PLAN, run_id="r1")))
    os.utime(runs / "r1.plan.json", (1, 1))
    (runs / "r2.plan.json").write_text(json.dumps(PLAN))
    return tmp_path


def test_a_stopped_run_says_what_failed_and_what_a_new_run_would_do(state):
    (state / "runs" / "r2.report.json").write_text(json.dumps({
        "stopped": "Upgrade of keystone on ctl2 failed at verify", "nodes": {
            "keystone@ctl1": {"result": "upgraded"}, "keystone@ctl2": {"result": "failed, restored"},
            "nova@cmp1": {"result": "not reached"}}}))
    RunState(str(state)).mark("nova@cmp1", True)
    out = describe(str(state))
    assert out["run_id"] == "r2" and out["running"] is False
    assert out["failed"] == {"keystone@ctl2": "failed, restored", "nova@cmp1": "not reached"}
    assert out["not_done"] == ["keystone@ctl2", "nova@cmp1"] and out["drained"] == ["nova@cmp1"]
    assert out["lines"][0] == "Run r2 of lab: ended, stopped: Upgrade of keystone on ctl2 failed at verify"
    assert out["lines"][-1] == ("  upgrade.yml run again would put back the nodes a run left out of service: nova@cmp1; "
                                "upgrade the 2 nodes not done: keystone@ctl2, nova@cmp1")


def test_a_run_under_way_names_its_owner_phase_steps_and_eta(state):
    RunState(str(state)).lock("run r1", process=process_identity(os.getpid()))
    (state / "runs" / "r1.status.json").write_text(json.dumps({
        "phase": "upgrade", "eta_s": 125, "nodes": {"keystone@ctl1": {"step": "verify", "result": None},
                                                    "keystone@ctl2": {"step": None, "result": None}}}))
    out = describe(str(state))
    assert out["run_id"] == "r1" and out["running"] is True and out["phase"] == "upgrade"
    assert out["in_progress"] == {"keystone@ctl1": "verify"} and out["eta_s"] == 125
    assert out["lines"][:3] == ["Run r1 of lab: running (run r1), at upgrade", "  about 2 min 5 s left (ETA from the status file)",
                                "  keystone@ctl1: verify"]


def test_a_killed_run_is_not_running_and_its_lock_will_be_taken_over(state):
    RunState(str(state)).lock("run r2", process=f"{process_identity(os.getpid()).split()[0]} 999999999 1")
    out = describe(str(state))
    assert out["running"] is False and "left no report (killed?)" in out["lines"][0]
    assert any("the next run takes it over" in line for line in out["lines"])


def test_nothing_planned_and_an_unknown_run(tmp_path):
    assert describe(str(tmp_path))["lines"] == [f"No run was ever planned with the state in {tmp_path}."]
    assert describe(str(tmp_path), "nope")["lines"][0].startswith("No plan of run nope")


def test_status_playbook_prints_the_answer_and_refuses_a_bad_run_id(state):
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               PATH=f"{pathlib.Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    argv = ["ansible-playbook", "-i", "localhost,", "-c", "local", str(ROOT / "playbooks" / "status.yml"),
            "-e", f"escalator_state_dir={state}"]
    proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    shown = " ".join(proc.stdout.split())  # the yaml output folds long lines
    assert "Run r2 of lab: not running, and it left no report" in shown
    assert "upgrade the 3 nodes not done: keystone@ctl1, keystone@ctl2, nova@cmp1" in shown
    proc = subprocess.run(argv + ["-e", "escalator_run_id=../x"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 2 and "run_id: '../x' cannot name a run" in " ".join(proc.stdout.split())
