"""The rolling-upgrade benchmark's arithmetic: lower bound, ratio, drained windows, overhead."""

import importlib.util
import pathlib

import pytest

PATH = pathlib.Path(__file__).resolve().parents[3] / "benchmarks" / "rolling_upgrade.py"
spec = importlib.util.spec_from_file_location("rolling_upgrade", PATH)
rolling_upgrade = importlib.util.module_from_spec(spec)
spec.loader.exec_module(rolling_upgrade)

PLAN = {"batches": [{"pairs": ["keystone@ctl1"]}, {"pairs": ["keystone@ctl2", "keystone@ctl3"]}]}


def report(seconds=100.0):
    return {
        "seconds": seconds,
        "nodes": {
            "keystone@ctl1": {"seconds": 14.0, "work_seconds": 10.0, "drained_seconds": 12.0},
            "keystone@ctl2": {"seconds": 30.0, "work_seconds": 25.0, "drained_seconds": 28.0},
            "keystone@ctl3": {"seconds": 28.0, "work_seconds": 27.0, "drained_seconds": 38.0},
        },
        "steps": [{"component": "*", "when": "stage", "seconds": 20.0},
                  {"component": "keystone", "when": "before", "seconds": 8.0},
                  {"component": "keystone", "when": "after", "seconds": 3.0}],
    }


def test_the_bound_is_staging_the_slowest_restart_of_each_batch_and_the_component_steps():
    figures = rolling_upgrade.lower_bound(PLAN, report(), wall=110.0)
    assert figures["lower_bound_s"] == 20.0 + 10.0 + 27.0 + 8.0 + 3.0
    assert figures["ratio"] == pytest.approx(110.0 / 68.0, abs=1e-3)
    assert figures["batches"] == [1, 2]
    assert figures["stage_s"] == 20.0 and figures["component_steps_s"] == 11.0


def test_drained_windows_are_set_beside_the_restart():
    figures = rolling_upgrade.lower_bound(PLAN, report(), wall=110.0)
    assert figures["drained_window"]["keystone@ctl2"] == {"drained_s": 28.0, "restart_until_serving_s": 25.0}
    assert figures["drained_within_restart_plus_10s"] is False  # ctl3: 38 s out for 27 s of restart


def test_the_overhead_parts_add_up_to_wall_time_less_the_bound():
    figures = rolling_upgrade.lower_bound(PLAN, report(), wall=110.0)
    parts = figures["overhead_s"]
    assert parts["ansible_start_and_exit_s"] == 10.0
    # Batch 1: 14 s against 10 s of restart; batch 2: 30 s against 27 s.
    assert parts["per_node_guard_drain_snapshot_undrain_s"] == 7.0
    assert sum(parts.values()) == pytest.approx(110.0 - 68.0, abs=0.11)


def test_a_report_without_timings_counts_nothing_outside_the_run():
    old = report()
    del old["seconds"], old["steps"]
    figures = rolling_upgrade.lower_bound(PLAN, old, wall=110.0)
    assert figures["overhead_s"]["ansible_start_and_exit_s"] == 0
    assert figures["stage_s"] == 0
