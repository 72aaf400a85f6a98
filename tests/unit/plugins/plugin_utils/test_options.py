"""Plan-time checks of check, backend and method options: a campaign that plans also runs."""

import copy
import pathlib
import re

import pytest
import yaml

from ansible_collections.opnfv.escalator.plugins.plugin_utils._campaign import validate
from ansible_collections.opnfv.escalator.plugins.plugin_utils._options import check_options
from ansible_collections.opnfv.escalator.plugins.plugin_utils._planner import build_plan
from helpers import load_groups, set_path

ROOT = pathlib.Path(__file__).resolve().parents[4]
EXAMPLE = yaml.safe_load((ROOT / "campaigns" / "openstack-two-sites.yml").read_text())
LAB = yaml.safe_load((ROOT / "campaigns" / "lab.yml").read_text())
GROUPS = load_groups(ROOT / "inventories" / "example" / "hosts.yml")
LAB_GROUPS = load_groups(ROOT / "inventories" / "lab" / "hosts.yml")
OPENSTACK = yaml.safe_load((ROOT / "campaigns" / "lab-openstack.yml").read_text())
OPENSTACK_GROUPS = load_groups(ROOT / "inventories" / "lab-openstack" / "hosts.yml")


def problems(doc, groups=GROUPS):
    return check_options(validate(doc), groups)


def test_the_example_and_lab_campaigns_pass():
    assert problems(EXAMPLE) == []
    assert problems(LAB, LAB_GROUPS) == []
    assert problems(OPENSTACK, OPENSTACK_GROUPS) == []


def test_the_openstack_campaign_plans_nova_last_one_compute_at_a_time():
    plan = build_plan(validate(OPENSTACK), OPENSTACK_GROUPS)
    assert plan["order"] == ["keystone", "placement", "glance", "neutron", "nova", "nova-compute"]
    computes = plan["components"][-1]
    assert computes["batch_hosts"] == [["os-cmp1"], ["os-cmp2"], ["os-cmp3"], ["os-cmp4"]]
    assert computes["canary"] == "os-cmp1" and computes["lower_bound"] == 4
    after = {s["name"]: s["run_on_hosts"] for s in computes["phases"]["after"]}
    assert after["nova online data migrations"] == ["os-ctl1"]
    assert after["nova-compute unpins the compute RPC version"] == ["os-cmp1", "os-cmp2", "os-cmp3", "os-cmp4"]
    check = plan["components"][-2]["phases"]["before"][0]
    assert check["run_on_hosts"] is None and check["success"]["rc"] == [0, 1]


def test_the_nova_rollback_checks_pass_only_while_a_service_still_runs_33():
    """Nova's rollback checks read the oldest service version of a kind (psql prints it
    alone on a line): 72 is 33.0.2's, 74 is 34.0.0's, and Nova refuses to start a service
    older than the oldest record of its kind."""
    plan = build_plan(validate(OPENSTACK), OPENSTACK_GROUPS)
    checks = {c["name"]: c["rollback_check"] for c in plan["components"] if c["rollback_check"]}
    assert sorted(checks) == ["nova", "nova-compute"]
    for check in checks.values():
        assert check["run_on_hosts"] == ["os-db1"] and check["success"]["rc"] == [0]

        def passes(out, check=check):
            return all(re.search(p, out, re.M) for p in check["success"]["require"])
        assert passes("72\n") and passes("70\n")
        assert not passes("74\n") and not passes("73\n") and not passes("\n") and not passes("172\n")


def test_the_nova_upgrade_check_is_judged_by_its_named_results():
    """nova-status upgrade check as the lab's Nova prints it (exit code 1, for the
    hw_machine_type warning): accepted; any other warning or a failure is not."""
    success = validate(OPENSTACK)["components"][4]["phases"]["before"][0]["success"]
    output = (ROOT / "tests" / "unit" / "data" / "nova-status-upgrade-check.txt").read_text()

    def passes(text):
        return (not any(re.search(p, text, re.M) for p in success["fail_if"])
                and all(re.search(p, text, re.M) for p in success["require"]))
    assert success["rc"] == [0, 1] and passes(output)
    placement = "| Check: Placement API                                                |\n| Result: "
    assert placement + "Success" in output
    assert not passes(output.replace(placement + "Success", placement + "Warning"))
    assert not passes(output.replace(placement + "Success", placement + "Failure"))
    assert not passes("")


@pytest.mark.parametrize("path, value, where, message", [
    ("components[2].maintenance.settings.status", None, "components[2].maintenance.settings",
     "missing required arguments: status"),
    ("components[3].maintenance.settings.live_migrat", True, "components[3].maintenance.settings.live_migrat",
     "unknown option"),
    ("components[3].maintenance.settings.live_migrate", "sometimes", "components[3].maintenance.settings",
     "live_migrate"),
    ("components[0].maintenance.settings.lb_group", "lbs", "components[0].maintenance.settings.lb_group",
     "'lbs' is no inventory group"),
    ("components[3].maintenance.settings.run_on", "ctl9", "components[3].maintenance.settings.run_on",
     "'ctl9' is no inventory host"),
    ("components[4].verify[0].stdout", "x", "components[4].verify[0].stdout", "not an option of a command check"),
    ("components[4].verify[0].stdout_regex", "(", "components[4].verify[0].stdout_regex",
     "not a valid regular expression"),
    ("components[0].verify[0].url", "ftp://x", "components[0].verify[0].url", "must start with http"),
    ("components[1].upgrade.pakages", ["x"], "components[1].upgrade.pakages", "unknown option"),
    ("components[3].phases", {"after": [{"name": "restart", "command": "true", "maintenance": {"keep_instance": True}}]},
     "components[3].phases.after[0].maintenance.keep_instance", "unknown option"),
    ("components[3].phases", {"after": [{"name": "restart", "command": "true", "maintenance": {"keep_instances": "x"}}]},
     "components[3].phases.after[0].maintenance", "keep_instances"),
    ("components[1].upgrade.version_check", {"type": "version"}, "components[1].upgrade.version_check",
     "needs exactly one of python_package, deb_package, command"),
    ("components[1].upgrade.method", "wheelhouse", "components[1].upgrade", "missing required arguments"),
    ("components[1].upgrade.method", "wheelhouse", "components[1].artifact.type",
     "installs from a wheelhouse artifact, not a package"),
])
def test_a_bad_option_is_refused_with_its_path(path, value, where, message):
    doc = copy.deepcopy(EXAMPLE)
    set_path(doc, path, value)
    found = problems(doc)
    assert any(p == where and message in m for p, m in found), found


def test_nova_runs_on_an_inventory_host_or_the_controller():
    for run_on in (GROUPS["controllers"][0], "localhost", "{{ groups['controllers'][0] }}"):
        doc = copy.deepcopy(EXAMPLE)
        set_path(doc, "components[3].maintenance.settings.run_on", run_on)
        set_path(doc, "components[3].maintenance.settings.config_file", "/etc/openstack/clouds.yaml")
        assert problems(doc) == [], run_on


def test_templated_values_stand_for_their_type():
    doc = copy.deepcopy(EXAMPLE)
    set_path(doc, "components[3].maintenance.settings.timeout", "{{ nova_timeout }}")
    set_path(doc, "components[0].verify[0].url", "{{ keystone_url }}")
    assert problems(doc) == []


def test_every_upgrade_method_of_the_campaign_has_its_options():
    from ansible_collections.opnfv.escalator.plugins.plugin_utils import _campaign, _options  # pylint: disable=import-outside-toplevel

    assert set(_options.METHOD_OPTIONS) == set(_campaign.UPGRADE_METHODS) == set(_options.METHOD_ARTIFACTS)


def test_a_step_overrides_some_of_the_components_maintenance_settings():
    # The command backend needs enter, exit and status: a step that changes only enter
    # runs with the component's exit and status, so it passes; a bad value of its own,
    # or settings that are wrong only together, are said at the step.
    doc = copy.deepcopy(EXAMPLE)
    set_path(doc, "components[1].maintenance", {"backend": "command", "settings": {
        "enter": "true", "exit": "true", "status": "true"}})
    step = {"name": "restart", "command": "true", "maintenance": {"enter": "echo out"}}
    set_path(doc, "components[1].phases", {"after": [step]})
    assert problems(doc) == []
    set_path(doc, "components[1].phases.after[0].maintenance", {"enter": "echo out", "timeout": "soon"})
    found = problems(doc)
    assert [p for p, _m in found] == ["components[1].phases.after[0].maintenance"], found
    assert "timeout" in found[0][1]


def test_a_step_takes_its_hosts_out_through_a_maintenance_of_its_own():
    # The controllers of a compute component, drained at the load balancer: the step's
    # backend and settings are checked alone, the component's are not used.
    doc = copy.deepcopy(EXAMPLE)
    own = {"backend": "haproxy", "settings": {"lb_group": "loadbalancers", "backend": "nova_api"}}
    step = {"name": "reload the APIs", "run_on": "controllers", "command": "true", "maintenance": own}
    set_path(doc, "components[3].phases", {"after": [step]})
    assert problems(doc) == []
    plan_step = validate(copy.deepcopy(doc))["components"][3]["phases"]["after"][0]
    assert plan_step["maintenance"] == own
    set_path(doc, "components[3].phases.after[0].maintenance.settings", {"lb_group": "lbs", "live_migrate": True})
    found = dict(problems(doc))
    assert found["components[3].phases.after[0].maintenance.settings.lb_group"] == "'lbs' is no inventory group"
    assert "unknown option" in found["components[3].phases.after[0].maintenance.settings.live_migrate"]
    assert "backend" in found["components[3].phases.after[0].maintenance.settings"]  # the HAProxy backend is required
