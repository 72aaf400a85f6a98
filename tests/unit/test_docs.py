"""The campaign examples in docs/campaign.md are the real files, and they plan."""

import pathlib
import re

import pytest
import yaml

from ansible_collections.opnfv.escalator.plugins.plugin_utils._campaign import validate
from ansible_collections.opnfv.escalator.plugins.plugin_utils._planner import build_plan
from helpers import load_groups

ROOT = pathlib.Path(__file__).resolve().parents[2]
BLOCKS = re.findall(r"<!-- file: (\S+) -->\n```yaml\n(.*?)```", (ROOT / "docs" / "campaign.md").read_text(), re.S)


def test_both_examples_are_in_the_docs():
    assert [name for name, _text in BLOCKS] == ["campaigns/lab.yml", "campaigns/openstack-two-sites.yml"]


@pytest.mark.parametrize("name, text", BLOCKS, ids=[b[0] for b in BLOCKS])
def test_docs_example_is_the_file_and_plans(name, text):
    path = ROOT / name
    assert text == path.read_text(), f"docs/campaign.md shows an outdated copy of {name}"
    campaign = validate(yaml.safe_load(text), base_dir=str(path.parent))
    inventory = {"lab.yml": "lab", "openstack-two-sites.yml": "example"}[path.name]
    plan = build_plan(campaign, load_groups(ROOT / "inventories" / inventory / "hosts.yml"), run_id="docs")
    assert plan["hosts_total"] > 0
    for comp in plan["components"]:
        assert comp["batches"][0] == 1  # both examples keep the canary


@pytest.mark.parametrize("name, text", BLOCKS, ids=[b[0] for b in BLOCKS])
def test_docs_example_options_are_what_the_modules_take(name, text):
    from ansible_collections.opnfv.escalator.plugins.plugin_utils._options import check_options  # pylint: disable=import-outside-toplevel

    inventory = {"lab.yml": "lab", "openstack-two-sites.yml": "example"}[pathlib.Path(name).name]
    campaign = validate(yaml.safe_load(text), base_dir=str((ROOT / name).parent))
    assert check_options(campaign, load_groups(ROOT / "inventories" / inventory / "hosts.yml")) == []
