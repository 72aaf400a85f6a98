"""The rolling-upgrade benchmark's arithmetic: lower bound, ratio and overhead split."""

import importlib.util
import pathlib

import pytest

PATH = pathlib.Path(__file__).resolve().parents[3] / "benchmarks" / "rolling_upgrade.py"
spec = importlib.util.spec_from_file_location("rolling_upgrade", PATH)
rolling_upgrade = importlib.util.module_from_spec(spec)
spec.loader.exec_module(rolling_upgrade)

PLAN = {"components": [{"batch_hosts": [["ctl1"], ["ctl2", "ctl3"]]}]}


def report(seconds=100.0):
    return {
        "seconds": seconds,
        # ctl1 is the canary: its 50 s install ran before the database steps.
        "nodes": {
            "ctl1": {"seconds": 14.0, "work_seconds": 60.0, "staged_install_seconds": 50.0},
            "ctl2": {"seconds": 30.0, "work_seconds": 25.0},
            "ctl3": {"seconds": 28.0, "work_seconds": 27.0},
        },
        "steps": [{"component": "keystone", "when": "before", "seconds": 58.0, "install_seconds": 50.0},
                  {"component": "keystone", "when": "after", "seconds": 3.0}],
    }


def test_the_bound_is_the_slowest_work_of_each_batch_with_the_canary_install():
    figures = rolling_upgrade.lower_bound(PLAN, report(), wall=110.0)
    assert figures["lower_bound_s"] == 60.0 + 27.0
    assert figures["ratio"] == pytest.approx(110.0 / 87.0, abs=1e-3)
    assert figures["batches"] == [1, 2]
    # Counting the database steps as unavoidable: 8 s before the first node, 3 s after the last.
    assert figures["lower_bound_with_component_steps_s"] == 87.0 + 8.0 + 3.0


def test_the_overhead_parts_add_up_to_wall_time_less_the_bound():
    figures = rolling_upgrade.lower_bound(PLAN, report(), wall=110.0)
    parts = figures["overhead_s"]
    assert parts["ansible_start_and_exit_s"] == 10.0
    assert parts["steps_before_first_node_s"] == 8.0  # the install is in the bound, not here
    assert parts["steps_after_last_node_s"] == 3.0
    # Batch 1: 14 s against 10 s of restart; batch 2: 30 s against 27 s.
    assert parts["per_node_guard_drain_snapshot_undrain_s"] == 7.0
    assert sum(parts.values()) == pytest.approx(110.0 - 87.0, abs=0.11)


def test_a_report_without_timings_counts_nothing_outside_the_run():
    old = report()
    del old["seconds"], old["steps"]
    parts = rolling_upgrade.lower_bound(PLAN, old, wall=110.0)["overhead_s"]
    assert parts["ansible_start_and_exit_s"] == 0
    assert parts["steps_before_first_node_s"] == 0
