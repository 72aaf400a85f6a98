"""The state directory of runs: lock, markers, run files; pure Python, on a real file system."""

import os

import pytest

from ansible_collections.opnfv.escalator.plugins.module_utils import _run_state
from ansible_collections.opnfv.escalator.plugins.module_utils._run_state import (
    RunState,
    RunStateError,
    process_alive,
    process_identity,
)


def tree(root):
    return sorted(os.path.relpath(os.path.join(d, f), root) + ("/" if f in dirs else "")
                  for d, dirs, files in os.walk(root) for f in files + dirs)


def test_the_lock_is_taken_once_and_names_its_owner_to_the_next_run(tmp_path):
    state = RunState(tmp_path / "state")
    assert state.owner() is None
    assert state.lock("run A") is True
    assert state.owner() == "run A"
    assert tree(tmp_path / "state") == ["drained/", "lock/", "lock/owner", "pending/", "runs/"]
    assert state.lock("run A") is False  # the same run again changes nothing
    with pytest.raises(RunStateError, match=r"Another run holds the lock .*/lock \(owner: run A\)\. Wait for it"):
        state.lock("run B")
    assert state.owner() == "run A"


def test_a_lock_left_without_owner_file_still_refuses(tmp_path):
    (tmp_path / "lock").mkdir()
    with pytest.raises(RunStateError, match=r"owner: unknown"):
        RunState(tmp_path).lock("run B")


def test_check_mode_says_what_would_change_and_writes_nothing(tmp_path):
    state = RunState(tmp_path / "state")
    assert state.lock("run A", check=True) is True
    assert state.mark("ctl1", True, check=True) is True
    assert state.save("runs/a.json", "{}\n", check=True) is True
    assert not (tmp_path / "state").exists()
    state.lock("run A")
    assert state.unlock(check=True) is True
    assert state.owner() == "run A"


def test_unlock_releases_and_a_second_unlock_changes_nothing(tmp_path):
    state = RunState(tmp_path)
    state.lock("run A")
    assert state.unlock() is True
    assert not (tmp_path / "lock").exists()
    assert state.unlock() is False
    assert state.lock("run B") is True


def test_markers_are_set_and_cleared_once(tmp_path):
    state = RunState(tmp_path)
    assert state.mark("ctl1", True) is True
    assert state.mark("ctl1", True) is False
    assert (tmp_path / "drained" / "ctl1").read_text() == "ctl1\n"
    assert state.drained() == ["ctl1"]
    assert state.mark("ctl1", False) is True
    assert state.mark("ctl1", False) is False
    assert state.drained() == []


def test_a_components_after_steps_are_pending_until_settled(tmp_path):
    state = RunState(tmp_path)
    assert _run_state.apply(state, {"pending": "nova-compute"}) is True
    assert _run_state.apply(state, {"pending": "nova-compute"}) is False
    assert (tmp_path / "pending" / "nova-compute").read_text() == "nova-compute\n"
    assert state.pending() == ["nova-compute"] and state.drained() == []
    assert _run_state.apply(state, {"settled": "nova-compute"}, check=True) is True
    assert state.pending() == ["nova-compute"]
    assert _run_state.apply(state, {"settled": "nova-compute"}) is True
    assert _run_state.apply(state, {"settled": "nova-compute"}) is False
    assert state.pending() == []
    with pytest.raises(RunStateError, match=r"pending: '\.\.' is not a component name"):
        _run_state.apply(state, {"pending": ".."})


@pytest.mark.parametrize("node", ["", "..", "a/b", "."])
def test_a_marker_must_be_a_node_name(tmp_path, node):
    with pytest.raises(RunStateError, match=r"drained: .* is not a node name"):
        RunState(tmp_path).mark(node, True)


def test_files_are_written_whole_and_only_when_they_differ(tmp_path):
    state = RunState(tmp_path)
    assert state.save("runs/r.plan.json", '{"a": 1}\n') is True
    assert (tmp_path / "runs" / "r.plan.json").read_text() == '{"a": 1}\n'
    assert state.save("runs/r.plan.json", '{"a": 1}\n') is False
    assert state.save("runs/r.plan.json", '{"a": 2}\n') is True
    assert [p.name for p in (tmp_path / "runs").iterdir()] == ["r.plan.json"]  # no temporary file left


@pytest.mark.parametrize("name", ["/etc/passwd", "../outside", "runs/../../x", ""])
def test_files_stay_inside_the_state_directory(tmp_path, name):
    with pytest.raises(RunStateError, match=r"must be a path inside the state directory"):
        RunState(tmp_path / "state").save(name, "x")
    assert not (tmp_path / "state").exists()


def test_a_lock_whose_process_is_gone_is_taken_over(tmp_path):
    alive = process_identity(os.getpid())
    state = RunState(tmp_path / "state")
    assert state.lock("run A", process=alive) is True
    assert state.holder_process() == alive
    with pytest.raises(RunStateError, match=r"owner: run A, process .* \d+ \d+\)"):
        state.lock("run B", process=alive)
    # A process of this machine that has ended (its start time no longer matches).
    host, pid, start = alive.split()
    (tmp_path / "state" / "lock" / "process").write_text(f"{host} {pid} {int(start) + 1}\n")
    assert process_alive(state.holder_process()) is False
    assert state.lock("run B", check=True) is True and state.owner() == "run A"
    assert state.lock("run B", process=alive) is True
    assert state.taken_over == "run A" and state.owner() == "run B"


def test_a_lock_held_from_another_machine_is_never_taken_over(tmp_path):
    state = RunState(tmp_path / "state")
    state.lock("run A", process="elsewhere 1 1")
    assert process_alive("elsewhere 1 1") is True
    with pytest.raises(RunStateError, match="Another run holds the lock"):
        state.lock("run B")


def test_a_container_with_the_same_hostname_is_another_machine(tmp_path, monkeypatch):
    """Containers on the host's network share its hostname but not its machine id: a lock
    taken from the host is never taken over from such a container."""
    identity = process_identity(os.getpid())
    machine_name, pid, start = identity.split()
    assert machine_name == _run_state.machine()
    monkeypatch.setattr(_run_state, "machine", lambda: machine_name + "-container")
    assert process_alive(f"{machine_name} {pid} {int(start) + 1}") is True


def test_files_and_mirror_copy_a_state_but_its_lock(tmp_path):
    kept = RunState(tmp_path / "kept")
    kept.lock("run A", process="elsewhere 1 1")
    kept.save("runs/a.plan.json", "{}\n")
    kept.mark("keystone@ctl1", True)
    assert kept.files() == {"runs/a.plan.json": "{}\n", "drained/keystone@ctl1": "keystone@ctl1\n"}
    copy = RunState(tmp_path / "copy")
    copy.save("runs/old.report.json", "{}\n")
    copy.mark("keystone@ctl2", True)
    assert copy.mirror(kept.files()) is True
    assert copy.files() == kept.files() and copy.owner() is None
    assert copy.mirror(kept.files()) is False


def test_two_processes_with_the_same_owner_do_not_both_hold_the_lock(tmp_path):
    state = RunState(tmp_path / "state")
    me = process_identity(os.getpid())
    parent = process_identity(os.getppid())
    assert state.lock("escalator", process=me) is True
    assert state.lock("escalator", process=me) is False  # its own process: nothing to do
    with pytest.raises(RunStateError, match="Another run holds the lock"):
        state.lock("escalator", process=parent)
