"""Properties of the planner over random clouds with overlapping groups (hypothesis)."""

import fnmatch
import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.opnfv.escalator.plugins.plugin_utils._campaign import validate
from ansible_collections.opnfv.escalator.plugins.plugin_utils._planner import allowed_out, build_plan

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

budget_values = st.one_of(st.integers(1, 6), st.integers(10, 100).map(lambda p: f"{p}%"))


@st.composite
def clouds(draw):
    """A random cloud: hosts in racks, in sites, in random service groups, in VNF groups."""
    n = draw(st.integers(1, 60))
    hosts = [f"h{i:03d}" for i in range(n)]
    groups = {"all": hosts}
    n_sites = draw(st.integers(1, 3))
    n_racks = draw(st.integers(1, 8))
    for i, h in enumerate(hosts):
        groups.setdefault(f"site_{i % n_sites}", []).append(h)
        groups.setdefault(f"rack_{(i * 7) % n_racks}", []).append(h)
    for k in range(draw(st.integers(0, 4))):
        members = draw(st.lists(st.sampled_from(hosts), min_size=1, max_size=n, unique=True))
        groups[f"svc_{k}"] = sorted(members)
    for k in range(draw(st.integers(0, 3))):
        members = draw(st.lists(st.sampled_from(hosts), min_size=2, max_size=min(n, 5), unique=True)) if n > 1 else []
        if members:
            groups[f"vnf_{k}"] = sorted(members)
    for g in list(groups):
        groups[g] = [h for h in hosts if h in set(groups[g])]
    return groups


def _component(name, targets, draw_budget, group_budgets, anti, depends_on=()):
    red = {"max_unavailable": draw_budget, "groups": group_budgets}
    if anti:
        red["anti_affinity"] = ["vnf_*"]
    return {
        "name": name, "targets": targets, "version": "2.0", "depends_on": list(depends_on),
        "artifact": {"type": "package", "name": name}, "expected_duration": 60, "redundancy": red,
    }


@st.composite
def campaigns(draw, cloud):
    group_budgets = []
    if draw(st.booleans()):
        group_budgets.append({"match": "rack_*", "max_unavailable": draw(budget_values)})
    if draw(st.booleans()):
        group_budgets.append({"match": "site_*", "max_unavailable": draw(budget_values)})
    if any(g.startswith("svc_") for g in cloud) and draw(st.booleans()):
        group_budgets.append({"match": "svc_*", "max_unavailable": draw(budget_values)})
    anti = any(g.startswith("vnf_") for g in cloud) and draw(st.booleans())
    doc = {"name": "random", "canary": draw(st.booleans()),
           "components": [_component("base", "all", draw(budget_values), group_budgets, anti)]}
    if draw(st.booleans()):
        doc["sites"] = {"match": "site_*", "one_at_a_time": True}
    return doc


def _feasible(campaign, groups):
    """Skip draws whose budgets allow nothing (the planner refuses those, tested elsewhere)."""
    return all(allowed >= 1 for dummy, allowed in _budget_limits(campaign, groups))


def _budget_limits(campaign, groups):
    """(members, allowed) for every budget, computed independently of the planner."""
    red = campaign["components"][0]["redundancy"]
    limits = [(set(groups["all"]), allowed_out(len(groups["all"]), red["budget"]))]
    for g in red["groups"]:
        for name in groups:
            if fnmatch.fnmatchcase(name, g["match"]):
                limits.append((set(groups[name]), allowed_out(len(groups[name]), g["budget"])))
    for pattern in red["anti_affinity"]:
        for name in groups:
            if fnmatch.fnmatchcase(name, pattern):
                limits.append((set(groups[name]), 1))
    return limits


@SETTINGS
@given(st.data())
def test_no_batch_breaks_any_budget(data):
    groups = data.draw(clouds())
    campaign = validate(data.draw(campaigns(groups)))
    if not _feasible(campaign, groups):
        return
    plan = build_plan(campaign, groups, run_id="r")
    comp = plan["components"][0]
    # Every host exactly once, and batches add up to the host list a play will use.
    assert sorted(comp["hosts"]) == sorted(groups["all"])
    assert sum(comp["batches"]) == len(comp["hosts"])
    assert [h for b in comp["batch_hosts"] for h in b] == comp["hosts"]
    for batch in comp["batch_hosts"]:
        for members, allowed in _budget_limits(campaign, groups):
            assert len(members.intersection(batch)) <= allowed, (batch, sorted(members), allowed)
    if campaign["canary"]:
        assert comp["batches"][0] == 1 and comp["canary"] == comp["hosts"][0]
    if campaign.get("sites"):
        site_of = {h: g for g in groups if g.startswith("site_") for h in groups[g]}
        for batch in comp["batch_hosts"]:
            assert len({site_of[h] for h in batch}) == 1
        order = [site_of[h] for h in comp["hosts"]]
        assert order == sorted(order)  # one site after the other, never back


@SETTINGS
@given(st.data())
def test_plans_are_deterministic(data):
    groups = data.draw(clouds())
    campaign = validate(data.draw(campaigns(groups)))
    if not _feasible(campaign, groups):
        return
    assert build_plan(campaign, groups, run_id="r", now=None)["components"] == \
        build_plan(campaign, groups, run_id="r")["components"]


@SETTINGS
@given(n_groups=st.integers(1, 12), sizes=st.lists(st.integers(1, 40), min_size=12, max_size=12),
       budget=st.integers(1, 9), canary=st.booleans())
def test_disjoint_groups_meet_the_lower_bound(n_groups, sizes, budget, canary):
    hosts, groups = [], {}
    for g in range(n_groups):
        members = [f"g{g}h{i}" for i in range(sizes[g])]
        groups[f"rack_{g}"] = members
        hosts += members
    groups["all"] = hosts
    doc = {"name": "disjoint", "canary": canary, "components": [
        _component("c", "all", "100%", [{"match": "rack_*", "max_unavailable": budget}], False)]}
    comp = build_plan(validate(doc), groups, run_id="r")["components"][0]
    bound = max(math.ceil(sizes[g] / budget) for g in range(n_groups))
    assert comp["lower_bound"] == bound
    if canary:
        # The canary host's group has one host fewer to place: at most one batch more.
        assert len(comp["batches"]) <= bound + 1
    else:
        assert len(comp["batches"]) == bound


@SETTINGS
@given(st.data())
def test_dependency_order_holds(data):
    n = data.draw(st.integers(2, 8))
    deps = {i: data.draw(st.lists(st.integers(0, i - 1), max_size=3, unique=True)) if i else [] for i in range(n)}
    perm = data.draw(st.permutations(range(n)))
    groups = {"all": [f"h{i}" for i in range(n)]}
    for i in range(n):
        groups[f"role_{i}"] = [f"h{i}"]
    comps = [_component(f"c{i}", f"role_{i}", 1, [], False, depends_on=[f"c{d}" for d in deps[i]]) for i in perm]
    plan = build_plan(validate({"name": "deps", "components": comps}), groups, run_id="r")
    pos = {name: k for k, name in enumerate(plan["order"])}
    for i in range(n):
        for d in deps[i]:
            assert pos[f"c{d}"] < pos[f"c{i}"]
