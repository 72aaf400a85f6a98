"""The molecule scenarios (extensions/molecule): their inventories plan as the docs say.

The scenarios themselves run on the lab image in `make molecule`; these checks catch a
broken scenario file in seconds: each campaign validates and plans against the
scenario's own platforms and groups, the multi-site one site by site, and no two
scenarios (nor the integration lab) share an address or a container name.
"""

import ipaddress
import pathlib
import re

import pytest
import yaml

from ansible_collections.opnfv.escalator.plugins.plugin_utils._campaign import validate
from ansible_collections.opnfv.escalator.plugins.plugin_utils._options import check_options
from ansible_collections.opnfv.escalator.plugins.plugin_utils._planner import build_plan
from helpers import ROOT

MOLECULE = ROOT / "extensions" / "molecule"
SCENARIOS = ("minimal", "ha", "multisite")


def _scenario(name):
    """molecule.yml with molecule's ${VAR} and ${VAR:-default} filled in as molecule would."""
    directory = MOLECULE / name
    env = {"MOLECULE_SCENARIO_DIRECTORY": str(directory), "MOLECULE_PROJECT_DIRECTORY": str(ROOT),
           "ESCALATOR_LAB_IMAGE": "escalator-lab:test"}
    text = re.sub(r"\$\{(\w+)(?::-([^}]*))?\}", lambda m: env.get(m.group(1), m.group(2) or ""),
                  (directory / "molecule.yml").read_text())
    return yaml.safe_load(text)


def _groups(config, reverse=False):
    platforms = config["platforms"][::-1] if reverse else config["platforms"]
    groups = {"all": [p["name"] for p in platforms]}
    for platform in platforms:
        for group in platform["groups"]:
            groups.setdefault(group, []).append(platform["name"])
    return groups


def _plan(name, reverse=False):
    config = _scenario(name)
    path = pathlib.Path(config["provisioner"]["inventory"]["group_vars"]["all"]["escalator_campaign"])
    path = path if path.is_absolute() else ROOT / path
    campaign = validate(yaml.safe_load(path.read_text()), base_dir=str(path.parent))
    groups = _groups(config, reverse)
    assert check_options(campaign, groups) == []
    return config, build_plan(campaign, groups, run_id="molecule")


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_controller_is_planned_once(name):
    config, plan = _plan(name)
    (comp,) = plan["components"]
    assert sorted(sum(comp["batch_hosts"], [])) == sorted(_groups(config)["controllers"])


def test_minimal_is_one_node_with_its_database_and_no_balancer():
    config, plan = _plan("minimal")
    (platform,) = config["platforms"]
    assert set(platform["groups"]) == {"db", "controllers"}
    assert plan["components"][0]["batch_hosts"] == [["mini-ctl1"]]
    assert plan["components"][0]["maintenance"]["backend"] == "none"


def test_multisite_upgrades_site_a_wholly_before_site_b():
    # Site B's hosts listed first: the campaign's `sites` still puts site A first.
    config, plan = _plan("multisite", reverse=True)
    groups = _groups(config)
    order = sum(plan["components"][0]["batch_hosts"], [])
    assert set(order[:2]) == set(groups["site_a"]) and set(order[2:]) == set(groups["site_b"])
    # Each node is drained at its own site's balancer: lb_group is the site group's variable.
    assert plan["components"][0]["maintenance"]["settings"]["lb_group"] == "{{ lab_site_lb_group }}"
    site_vars = config["provisioner"]["inventory"]["group_vars"]
    assert {site_vars[s]["lab_site_lb_group"] for s in ("site_a", "site_b")} == {"lb_a", "lb_b"}
    host_vars = config["provisioner"]["inventory"]["host_vars"]
    for lb, site in (("ms-lb-a", "site_a"), ("ms-lb-b", "site_b")):
        assert host_vars[lb]["lab_haproxy_backend_group"] == site


def test_scenarios_and_the_labs_share_no_address_and_no_container_name():
    """Neither the two Keystone labs (the integration tests' and the faults lab, which make
    test runs side by side) nor the scenarios share an address, a VIP or a container name."""
    seen, addresses = {}, {}
    inventories = ROOT / "inventories"

    def claim(address, owner):
        assert ipaddress.ip_address(address).is_loopback, (owner, address)
        assert address not in addresses, (owner, address, addresses.get(address))
        addresses[address] = owner

    def walk(lab, node):
        for host, hv in ((node or {}).get("hosts") or {}).items():
            assert hv["ansible_host"] == f"escalator-{host}", (lab, host)  # what labctl and the tests use
            assert hv["ansible_host"] not in seen, (lab, host, seen.get(hv["ansible_host"]))
            seen[hv["ansible_host"]] = lab
            claim(hv["lab_address"], f"{lab} {host}")
        for child in ((node or {}).get("children") or {}).values():
            walk(lab, child)
    for lab in ("lab", "lab-faults"):
        lab_vars = yaml.safe_load((inventories / lab / "hosts.yml").read_text())
        walk(lab, lab_vars["all"])
        claim(lab_vars["all"]["vars"]["lab_vip"], f"{lab} VIP")
    assert (inventories / "lab-faults" / "group_vars").resolve() == (inventories / "lab" / "group_vars").resolve()
    for name in SCENARIOS:
        config = _scenario(name)
        inventory = config["provisioner"]["inventory"]
        for platform in config["platforms"]:
            assert platform["name"] not in seen, (name, platform["name"])
            seen[platform["name"]] = name
            # `make lab-down` (labctl down molecule) removes any container a stopped run left.
            assert platform["labels"] == {"escalator.lab": "molecule"} and platform["network_mode"] == "host"
            claim(inventory["host_vars"][platform["name"]]["lab_address"], name)
