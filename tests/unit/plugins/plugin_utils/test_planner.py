"""Example-based planner tests: the numbers an operator would check by hand."""

import pathlib
import sys

import pytest

from ansible_collections.opnfv.escalator.plugins.plugin_utils._campaign import CampaignError, validate
from ansible_collections.opnfv.escalator.plugins.plugin_utils._planner import allowed_out, build_plan, render_table

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[4] / "benchmarks"))
import plan_scale  # noqa: E402  pylint: disable=wrong-import-position


@pytest.mark.parametrize("size, budget, expected", [
    (10, ("max_unavailable", ("count", 3)), 3),
    (2, ("max_unavailable", ("count", 5)), 2),
    (10, ("max_unavailable", ("percent", 25)), 2),  # rounded down
    (10, ("min_available", ("count", 7)), 3),
    (10, ("min_available", ("percent", 75)), 2),  # 7.5 kept, rounded up to 8
    (3, ("min_available", ("count", 3)), 0),
])
def test_allowed_out(size, budget, expected):
    assert allowed_out(size, budget) == expected


def _comp(**kw):
    base = {"name": "svc", "targets": "all", "version": "2", "expected_duration": 60,
            "artifact": {"type": "package", "name": "svc"}}
    base.update(kw)
    return base


def test_overlapping_clouds_get_within_the_canary_of_the_lower_bound():
    groups = plan_scale.cloud(100, overlapping=True)
    comp = build_plan(validate(plan_scale.campaign(overlapping=True, canary=True)), groups, run_id="t")["components"][0]
    assert len(comp["batches"]) <= comp["lower_bound"] + 1


def test_down_hosts_are_left_out_and_count_against_budgets():
    groups = {"all": ["a", "b", "c", "d"], "rack": ["a", "b", "c", "d"]}
    doc = {"name": "d", "components": [_comp(redundancy={"max_unavailable": 2})]}
    comp = build_plan(validate(doc), groups, down_hosts=["b"], run_id="t")["components"][0]
    assert comp["hosts"] == ["a", "c", "d"] and comp["skipped_down"] == ["b"]
    assert comp["budgets"][0]["allowed_out"] == 1
    assert comp["batches"] == [1, 1, 1]


def test_sites_one_at_a_time_with_a_canary_each():
    groups = {"all": ["a1", "a2", "a3", "b1", "b2", "b3"], "site_a": ["a1", "a2", "a3"],
              "site_b": ["b1", "b2", "b3"]}
    doc = {"name": "s", "sites": {"match": "site_*"}, "components": [_comp(redundancy={"max_unavailable": 2})]}
    comp = build_plan(validate(doc), groups, run_id="t")["components"][0]
    assert comp["batch_hosts"] == [["a1"], ["a2", "a3"], ["b1"], ["b2", "b3"]]


def test_phases_add_to_the_expected_duration_and_show_in_the_table():
    groups = {"all": ["a", "b"]}
    doc = {"name": "p", "timeout_margin": 2, "components": [_comp(
        phases={"before": [{"name": "expand", "command": "x", "expected_duration": 30}],
                "after": [{"name": "contract", "command": "y"}]})]}
    plan = build_plan(validate(doc), groups, run_id="t")
    comp = plan["components"][0]
    assert comp["timeout_s"] == 120 and comp["total_expected_s"] == 60 * 2 + 30 + 60
    table = render_table(plan)
    assert "expand" in table and "a (canary)" in table and "contract" in table


def test_a_verify_timeout_bounds_the_checks_within_the_nodes_time_limit():
    groups = {"all": ["a", "b"]}
    doc = {"name": "v", "timeout_margin": 2, "components": [_comp()]}
    assert build_plan(validate(doc), groups, run_id="t")["components"][0]["verify_timeout_s"] == 120
    doc["components"][0]["verify_timeout"] = "30s"
    assert build_plan(validate(doc), groups, run_id="t")["components"][0]["verify_timeout_s"] == 30
    # Never longer than the node's own time limit.
    doc["components"][0]["verify_timeout"] = "1h"
    assert build_plan(validate(doc), groups, run_id="t")["components"][0]["verify_timeout_s"] == 120


def test_one_controller_minimal_system_plans_with_an_explicit_budget():
    doc = {"name": "m", "components": [_comp(redundancy={"max_unavailable": 1})]}
    assert build_plan(validate(doc), {"all": ["only"]}, run_id="t")["components"][0]["batches"] == [1]
    with pytest.raises(CampaignError, match="budget cannot be met"):
        build_plan(validate({"name": "m", "components": [_comp(redundancy={"min_available": 1})]}),
                   {"all": ["only"]}, run_id="t")
