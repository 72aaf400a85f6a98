"""Every bad campaign is refused with the path of the bad field and what is wrong."""

import copy
import pathlib

import pytest
import yaml
from helpers import set_path

from ansible_collections.opnfv.escalator.plugins.plugin_utils._campaign import CampaignError, validate
from ansible_collections.opnfv.escalator.plugins.plugin_utils._planner import build_plan

CASES = yaml.safe_load((pathlib.Path(__file__).parents[2] / "data" / "bad_campaigns.yml").read_text())

BASE = {
    "name": "base",
    "components": [
        {
            "name": "keystone",
            "targets": "controllers",
            "version": "29.1.0",
            "artifact": {"type": "file", "path": "/srv/keystone.tar", "sha256": "0" * 64},
            "expected_duration": 60,
            "maintenance": {"backend": "haproxy"},
            "verify": [{"name": "up", "type": "tcp", "port": 5000}],
            "redundancy": {"max_unavailable": 1},
        },
        {
            "name": "nova",
            "targets": "computes",
            "version": "32.1.0",
            "depends_on": ["keystone"],
            "artifact": {"type": "package", "name": "nova-compute"},
            "expected_duration": "5m",
            "redundancy": {
                "max_unavailable": "25%",
                "groups": [{"match": "rack_*", "max_unavailable": "50%"}],
                "anti_affinity": ["vnf_*"],
            },
        },
    ],
}


def test_the_corpus_is_large_enough():
    assert len(CASES) >= 25
    assert len({c["id"] for c in CASES}) == len(CASES)


def test_the_base_campaign_is_valid(example_groups):
    plan = build_plan(validate(copy.deepcopy(BASE)), example_groups)
    assert plan["order"] == ["keystone", "nova"]


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_bad_campaign_names_the_field(case, example_groups):
    doc = copy.deepcopy(case["doc"]) if "doc" in case else copy.deepcopy(BASE)
    for path, value in (case.get("set") or {}).items():
        set_path(doc, path, value)
    with pytest.raises(CampaignError) as exc:
        campaign = validate(doc)
        assert case.get("stage") == "plan", "validate() accepted a campaign it must refuse"
        build_plan(campaign, example_groups, down_hosts=case.get("down_hosts", ()))
    assert (case["path"], case["message"]) in exc.value.errors, exc.value.errors
    # The message an operator reads names the path first.
    expected_line = f"{case['path']}: {case['message']}" if case["path"] else case["message"]
    assert expected_line in str(exc.value).splitlines()


def test_all_problems_are_reported_together():
    doc = copy.deepcopy(BASE)
    set_path(doc, "components[0].on_failure", "retry")
    set_path(doc, "components[1].redundancy.max_unavailable", 0)
    with pytest.raises(CampaignError) as exc:
        validate(doc)
    assert [path for path, dummy in exc.value.errors] == [
        "components[0].on_failure", "components[1].redundancy.max_unavailable"]


def test_versions_are_text_as_written():
    doc = copy.deepcopy(yaml.safe_load(yaml.safe_dump(BASE)))
    doc["components"][0]["version"] = yaml.safe_load("'29.10'")
    assert validate(doc)["components"][0]["version"] == "29.10"
    for unquoted in ("29.10", "010", "30"):  # 29.1, 8 and 30 once YAML has read them
        doc["components"][0]["version"] = yaml.safe_load(unquoted)
        with pytest.raises(CampaignError, match=r"components\[0\]\.version: must be text: write it in quotes"):
            validate(doc)


def test_a_wait_for_notification_step_plans_with_the_step_time_limit(example_groups):
    doc = copy.deepcopy(BASE)
    doc["components"][0]["phases"] = {"after": [{
        "name": "storage healthy", "expected_duration": "2m",
        "wait_for_notification": {"port": 9443, "path": "/storage", "secret": "{{ vault_storage_secret }}",
                                  "match": {"data.status": "HEALTH_OK"}, "on_timeout": "continue"}}]}
    plan = build_plan(validate(doc), example_groups)
    (step,) = plan["components"][0]["phases"]["after"]
    assert step["timeout_s"] == 180.0 and step["run_on_hosts"] is None
    assert step["wait_for_notification"]["secret"] == "{{ vault_storage_secret }}"
