"""The OpenStack benchmark's scenarios and figures (the runs themselves need the lab)."""

import importlib.util
import pathlib

import yaml
from ansible_collections.opnfv.escalator.plugins.plugin_utils._campaign import validate

ROOT = pathlib.Path(__file__).resolve().parents[3]
spec = importlib.util.spec_from_file_location("openstack_upgrade", ROOT / "benchmarks" / "openstack_upgrade.py")
openstack_upgrade = importlib.util.module_from_spec(spec)
spec.loader.exec_module(openstack_upgrade)

DOC = yaml.safe_load((ROOT / "campaigns" / "lab-openstack.yml").read_text())


def by_name(doc):
    return {c["name"]: c for c in doc["components"]}


def test_escalator_is_the_campaign_as_it_is():
    assert openstack_upgrade.campaign("escalator", DOC) == DOC


def test_controllers_all_at_once_drops_drain_and_budget_on_the_control_plane_only():
    doc = by_name(openstack_upgrade.campaign("controllers_all_at_once", DOC))
    for name in ("keystone", "placement", "glance", "neutron", "nova"):
        assert doc[name]["maintenance"] == {"backend": "none"} and doc[name]["redundancy"] == {"max_unavailable": "100%"}
    assert doc["nova-compute"] == by_name(DOC)["nova-compute"]
    assert by_name(DOC)["keystone"]["maintenance"]["backend"] == "haproxy"  # the loaded campaign is left alone


def test_computes_no_drain_upgrades_every_compute_at_once_without_moving_instances():
    doc = openstack_upgrade.campaign("computes_no_drain", DOC)
    comps = by_name(doc)
    assert comps["nova-compute"]["maintenance"] == {"backend": "none"}
    assert comps["nova-compute"]["redundancy"] == {"max_unavailable": "100%"}
    assert comps["nova"] == by_name(DOC)["nova"] and doc["canary"] is False
    # The unpinning restarts run with nothing taken out either, and the campaign is valid.
    assert not [s for steps in comps["nova-compute"]["phases"].values() for s in steps if "maintenance" in s]
    assert [s for s in by_name(DOC)["nova-compute"]["phases"]["after"] if "maintenance" in s]
    for kind in openstack_upgrade.SCENARIOS:
        validate(openstack_upgrade.campaign(kind, DOC))


def test_the_probe_figures_reported():
    probe = {
        "apis": {"nova": {"total": 10, "failed": 1, "longest_gap_s": 2.5, "latency_ms": {}}},
        "instances": {"total": 6, "lost": 0, "lost_detail": [], "max_not_active_s": 19.0,
                      "live_migrations": 3, "anti_affinity_violations": 0,
                      "migrations": [{"duration_s": 21.0}, {"duration_s": 18.0}, {"duration_s": 19.5}]},
        "create_delete": {"done": 4, "failed": 0},
    }
    result = openstack_upgrade.summarize(probe, {})
    assert result["apis"] == {"nova": {"requests": 10, "failed": 1, "longest_gap_s": 2.5}}
    assert result["live_migrations"] == {"done": 3, "seconds": {"min": 18.0, "median": 19.5, "max": 21.0}}
    assert result["instances"]["max_not_active_s"] == 19.0 and result["boots"] == {"done": 4, "failed": 0}
