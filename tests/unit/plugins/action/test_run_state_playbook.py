"""The run_state action plugin in real playbooks on localhost: four ways, refusals, bad arguments."""

import json
import os
import pathlib
import subprocess
import sys

import yaml

from ansible_collections.opnfv.escalator.plugins.module_utils._run_state import process_identity

ROOT = pathlib.Path(__file__).resolve().parents[4]


def play(tmp_path, tasks, *extra):
    book = tmp_path / "play.yml"
    book.write_text(yaml.safe_dump([{"hosts": "localhost", "gather_facts": False, "tasks": tasks}]))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json",
               PATH=f"{pathlib.Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    proc = subprocess.run(["ansible-playbook", "-i", "localhost,", "-c", "local", str(book), *extra],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    try:
        out = json.loads(proc.stdout)
    except ValueError:
        raise AssertionError(proc.stdout + proc.stderr) from None
    results = [t["hosts"]["localhost"] for t in out["plays"][0]["tasks"]]
    return proc.returncode, results


def take(state, run="run A"):
    return {"name": "take", "opnfv.escalator.run_state": {
        "path": str(state), "lock": "taken", "owner": run,
        "files": {"runs/a.plan.json": {"run_id": "a", "batches": [1, 2]}}}}


def test_take_the_lock_four_ways(tmp_path):
    state = tmp_path / "state"
    rc, (first,) = play(tmp_path, [take(state)], "--check")
    assert rc == 0 and first["changed"] is True and not state.exists()
    rc, (first,) = play(tmp_path, [take(state)])
    assert rc == 0 and first["changed"] is True and first["lock_owner"] == "run A"
    assert json.loads((state / "runs" / "a.plan.json").read_text()) == {"run_id": "a", "batches": [1, 2]}
    rc, (first,) = play(tmp_path, [take(state)], "--check")
    assert rc == 0 and first["changed"] is False
    rc, (first,) = play(tmp_path, [take(state)])
    assert rc == 0 and first["changed"] is False


def test_a_second_run_is_refused_and_writes_nothing(tmp_path):
    state = tmp_path / "state"
    play(tmp_path, [take(state)])
    # The first playbook has ended: stand in for a run that is still going on.
    (state / "lock" / "process").write_text(process_identity(os.getpid()) + "\n")
    second = take(state, "run B")
    second["opnfv.escalator.run_state"]["files"] = {"runs/b.plan.json": "{}"}
    rc, (result,) = play(tmp_path, [second])
    assert rc == 2 and result["failed"] is True
    assert "Another run holds the lock" in result["msg"] and "(owner: run A, process " in result["msg"]
    assert not (state / "runs" / "b.plan.json").exists()


def test_markers_and_release(tmp_path):
    state = tmp_path / "state"
    tasks = [take(state),
             {"opnfv.escalator.run_state": {"path": str(state), "drained": "ctl1"}},
             {"opnfv.escalator.run_state": {"path": str(state), "drained": "ctl2"}},
             {"opnfv.escalator.run_state": {"path": str(state), "undrained": "ctl1"}},
             {"opnfv.escalator.run_state": {"path": str(state), "lock": "released"}}]
    rc, results = play(tmp_path, tasks)
    assert rc == 0
    assert [r["drained"] for r in results[1:4]] == [["ctl1"], ["ctl1", "ctl2"], ["ctl2"]]
    assert results[4]["lock_owner"] is None and not (state / "lock").exists()


def test_bad_arguments_are_named(tmp_path):
    rc, (result,) = play(tmp_path, [{"opnfv.escalator.run_state": {
        "path": str(tmp_path), "drained": "ctl1", "undrained": "ctl1"}}])
    assert rc == 2 and "mutually exclusive: drained|undrained" in result["msg"]
    rc, (result,) = play(tmp_path, [{"opnfv.escalator.run_state": {"path": str(tmp_path)}}])
    assert rc == 2 and "one of the following is required: lock, files, drained, undrained, pending, settled, pull" in result["msg"]
    rc, (result,) = play(tmp_path, [{"opnfv.escalator.run_state": {"path": str(tmp_path), "lock": "broken"}}])
    assert rc == 2 and "lock" in result["msg"] and "taken, released" in result["msg"]
    rc, (result,) = play(tmp_path, [{"opnfv.escalator.run_state": {
        "path": str(tmp_path), "files": {"../x": "y"}}}])
    assert rc == 2 and "files: '../x' must be a path inside the state directory" in result["msg"]
    assert not (tmp_path.parent / "x").exists()


def test_a_lock_left_by_a_run_that_was_killed_is_taken_over(tmp_path):
    state = tmp_path / "state"
    play(tmp_path, [take(state)])
    rc, (result,) = play(tmp_path, [take(state, "run B")])
    assert rc == 0 and result["changed"] is True
    assert result["taken_over"] == "run A" and result["lock_owner"] == "run B"
