"""The Fenix maintenance protocol: what a VNFM is sent (the AODH event alarm Doctor's
sample VNFM decodes) and which of its replies are acted on."""

import json

import pytest

from ansible_collections.opnfv.escalator.plugins.plugin_utils import _coordination as co

NOW = 1_800_000_000.0


@pytest.fixture
def session():
    return co.Session(project_id="p1", endpoint="http://127.0.0.1:12347/", instances=["i1", "i2"],
                      metadata={"openstack_release": "2026.2"})


def traits(alarm):
    """As Doctor's sample VNFM reads them: name -> value, lists and objects decoded."""
    def decode(value):
        return json.loads(value) if value[:1] in "[{" else value
    return {name: decode(value) for name, dummy, value in alarm["reason_data"]["event"]["traits"]}


def test_a_planned_maintenance_carries_every_fenix_field(session):
    payload = co.project_payload(session, "PLANNED_MAINTENANCE", NOW, 60)
    url = f"http://127.0.0.1:12347/v1/maintenance/{session.session_id}/p1/"
    assert payload == {
        "service": "fenix", "state": "PLANNED_MAINTENANCE", "session_id": session.session_id, "project_id": "p1",
        "instance_ids": url, "allowed_actions": ["MIGRATE", "LIVE_MIGRATE", "OWN_ACTION"], "reply_url": url,
        "reply_at": "2027-01-15T08:01:00", "actions_at": "2027-01-15T08:01:00",
        "metadata": {"openstack_release": "2026.2"}}
    alarm = co.alarm(co.EVENT_PROJECT, payload, NOW)
    assert alarm["reason_data"]["event"]["event_type"] == "maintenance.planned"
    assert traits(alarm) == payload


def test_only_states_that_move_instances_offer_actions_and_one_instance_is_named_when_done(session):
    assert co.project_payload(session, "MAINTENANCE", NOW, 60)["allowed_actions"] == []
    done = co.project_payload(session, "INSTANCE_ACTION_DONE", NOW, 60, instance_id="i1")
    assert done["instance_ids"] == "i1"
    with pytest.raises(co.CoordinationError, match="instance_id: given with INSTANCE_ACTION_DONE and only then"):
        co.project_payload(session, "INSTANCE_ACTION_DONE", NOW, 60)
    with pytest.raises(co.CoordinationError, match="state: 'REBOOT' is not one of"):
        co.project_payload(session, "REBOOT", NOW, 60)


def test_a_host_event_says_in_and_out_of_maintenance(session):
    assert co.host_payload(session, "cmp1", "IN_MAINTENANCE") == {
        "service": "fenix", "state": "IN_MAINTENANCE", "session_id": session.session_id, "host": "cmp1",
        "project_id": "p1"}
    with pytest.raises(co.CoordinationError, match="state: 'DOWN'"):
        co.host_payload(session, "cmp1", "DOWN")


def test_an_ack_with_allowed_actions_goes_on_and_a_nack_takes_the_policy(session):
    ack = co.parse_reply(session, "PLANNED_MAINTENANCE", {
        "session_id": session.session_id, "state": "ACK_PLANNED_MAINTENANCE",
        "instance_actions": {"i1": "LIVE_MIGRATE", "i2": "OWN_ACTION"}})
    assert ack.ack and ack.instance_actions == {"i1": "LIVE_MIGRATE", "i2": "OWN_ACTION"}
    assert co.decide(ack, "fail") == "go"
    nack = co.parse_reply(session, "MAINTENANCE", {"session_id": session.session_id, "state": "NACK_MAINTENANCE"})
    assert [co.decide(nack, policy) for policy in co.POLICIES] == ["skip_host", "pause", "fail"]
    assert co.decide(None, "pause") == "pause"  # no reply in time


@pytest.mark.parametrize("body, message", [
    ({"session_id": "another", "state": "ACK_PLANNED_MAINTENANCE"}, "session_id: 'another' is not this session's"),
    ({"state": "ACK_MAINTENANCE"}, "state: 'ACK_MAINTENANCE', expected ACK_PLANNED_MAINTENANCE"),
    ({"state": "ACK_PLANNED_MAINTENANCE", "instance_actions": {"i9": "MIGRATE"}},
     "instance_actions: i9 is not an instance of this session"),
    ({"state": "ACK_PLANNED_MAINTENANCE", "instance_actions": {"i1": "REBUILD"}},
     "instance_actions.i1: 'REBUILD' is not allowed"),
    ({"state": "ACK_PLANNED_MAINTENANCE", "instance_actions": ["i1"]}, "instance_actions: must be an object"),
    (["ACK_PLANNED_MAINTENANCE"], "the reply is not a JSON object"),
])
def test_a_reply_that_cannot_be_acted_on_names_what_is_wrong(session, body, message):
    with pytest.raises(co.CoordinationError, match=message.replace("(", r"\(")):
        co.parse_reply(session, "PLANNED_MAINTENANCE", body)


def test_actions_outside_the_session_and_unknown_policies_are_refused():
    limited = co.Session(project_id="p1", endpoint="http://127.0.0.1:1", instances=["i1"],
                         allowed_actions=("MIGRATE",))
    with pytest.raises(co.CoordinationError, match=r"'LIVE_MIGRATE' is not allowed \(allowed: MIGRATE\)"):
        co.parse_reply(limited, "PREPARE_MAINTENANCE", {"state": "ACK_PREPARE_MAINTENANCE",
                                                        "instance_actions": {"i1": "LIVE_MIGRATE"}})
    with pytest.raises(co.CoordinationError, match="allowed_actions: EVACUATE not among"):
        co.Session(project_id="p1", endpoint="http://127.0.0.1:1", allowed_actions=("EVACUATE",))
    with pytest.raises(co.CoordinationError, match="policy: 'retry' is not one of"):
        co.decide(None, "retry")
