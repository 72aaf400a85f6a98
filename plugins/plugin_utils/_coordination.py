# Copyright: OPNFV Escalator developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The maintenance protocol of OpenStack Fenix, as Escalator speaks it to a project's
manager (a VNFM) before hosts with the project's instances go into maintenance.

What goes out: a project notification (event type ``maintenance.planned``) or a host
notification (``maintenance.host``), wrapped as the AODH event alarm a Fenix-speaking VNFM
takes on its ``POST /maintenance`` (its fields as event traits, lists as JSON text).
What comes back: a ``PUT`` to ``reply_url`` whose body is ``{"session_id", "state":
"ACK_<state>" | "NACK_<state>", "instance_actions": {instance id: action}}``. This module
builds the first and judges the second; sending, serving and signing are the callers'.
Private to the opnfv.escalator collection.
"""

import dataclasses
import datetime
import json
import uuid

EVENT_PROJECT = "maintenance.planned"
EVENT_HOST = "maintenance.host"
# States a project is told of, and whether it must answer.
PROJECT_STATES = {"MAINTENANCE": True, "SCALE_IN": True, "PREPARE_MAINTENANCE": True, "PLANNED_MAINTENANCE": True,
                  "INSTANCE_ACTION_DONE": False, "MAINTENANCE_COMPLETE": True}
HOST_STATES = ("IN_MAINTENANCE", "MAINTENANCE_COMPLETE")
ACTIONS = ("MIGRATE", "LIVE_MIGRATE", "OWN_ACTION")
# States whose answer may say, per instance, what to do with it.
ACTION_STATES = ("SCALE_IN", "PREPARE_MAINTENANCE", "PLANNED_MAINTENANCE")
# What a NACK or no answer in time does to the host (the campaign's choice).
POLICIES = ("skip_host", "pause", "fail")


class CoordinationError(Exception):
    """A reply that cannot be acted on; the message names the field and what is wrong."""


@dataclasses.dataclass
class Session:
    """One project's part of a maintenance session: the hosts going out and its instances
    on them, at the endpoint that serves its instance list and takes its replies."""

    project_id: str
    endpoint: str  # e.g. http://127.0.0.1:12347, where the controller serves the session
    instances: list = dataclasses.field(default_factory=list)
    allowed_actions: tuple = ACTIONS
    metadata: dict = dataclasses.field(default_factory=dict)
    session_id: str = dataclasses.field(default_factory=lambda: str(uuid.uuid4()))

    def __post_init__(self):
        bad = [a for a in self.allowed_actions if a not in ACTIONS]
        if bad:
            raise CoordinationError(f"allowed_actions: {', '.join(map(str, bad))} not among {', '.join(ACTIONS)}")

    @property
    def url(self):
        """Fenix's project API path: GET lists the instances, PUT takes the reply."""
        return f"{self.endpoint.rstrip('/')}/v1/maintenance/{self.session_id}/{self.project_id}/"


def _iso(stamp):
    return datetime.datetime.fromtimestamp(stamp, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def project_payload(session, state, now, reply_seconds, actions_at=None, instance_id=None):
    """The ``maintenance.planned`` payload for state. INSTANCE_ACTION_DONE names its one
    instance in ``instance_ids``; every other state gives the URL that lists them."""
    if state not in PROJECT_STATES:
        raise CoordinationError(f"state: {state!r} is not one of {', '.join(PROJECT_STATES)}")
    if (state == "INSTANCE_ACTION_DONE") != (instance_id is not None):
        raise CoordinationError("instance_id: given with INSTANCE_ACTION_DONE and only then")
    return {
        "service": "fenix",
        "state": state,
        "session_id": session.session_id,
        "project_id": session.project_id,
        "instance_ids": instance_id if instance_id is not None else session.url,
        "allowed_actions": list(session.allowed_actions) if state in ACTION_STATES else [],
        "reply_url": session.url,
        "reply_at": _iso(now + reply_seconds),
        "actions_at": _iso(actions_at if actions_at is not None else now + reply_seconds),
        "metadata": dict(session.metadata),
    }


def host_payload(session, host, state):
    """The ``maintenance.host`` payload: host going into maintenance, or back."""
    if state not in HOST_STATES:
        raise CoordinationError(f"state: {state!r} is not one of {', '.join(HOST_STATES)}")
    return {"service": "fenix", "state": state, "session_id": session.session_id, "host": host,
            "project_id": session.project_id}


def alarm(event_type, payload, now, alarm_id=None):
    """The AODH event alarm that carries a notification to a VNFM's ``POST /maintenance``:
    each payload field a trait ``[name, 1 (string), value]``, lists and objects as JSON."""
    traits = [[name, 1, value if isinstance(value, str) else json.dumps(value)] for name, value in payload.items()]
    return {
        "alarm_id": alarm_id or str(uuid.uuid4()),
        "alarm_name": f"escalator {event_type}",
        "current": "alarm",
        "previous": "insufficient data",
        "reason": f"Event <{event_type}> hits the query",
        "reason_data": {"type": "event", "event": {
            "message_id": str(uuid.uuid4()), "event_type": event_type, "generated": _iso(now), "traits": traits}},
        "severity": "moderate",
    }


@dataclasses.dataclass
class Reply:
    ack: bool
    state: str
    instance_actions: dict


def parse_reply(session, expected_state, body):
    """Judge a reply (a dict) to the notification of expected_state: for this session,
    ACK_ or NACK_ that state, instance actions only for the session's instances and
    within its allowed actions. Raises CoordinationError naming the field."""
    if not isinstance(body, dict):
        raise CoordinationError("the reply is not a JSON object")
    if body.get("session_id") not in (None, session.session_id):
        raise CoordinationError(f"session_id: {str(body['session_id'])[:80]!r} is not this session's")
    state = body.get("state")
    if state not in (f"ACK_{expected_state}", f"NACK_{expected_state}"):
        raise CoordinationError(f"state: {str(state)[:80]!r}, expected ACK_{expected_state} or NACK_{expected_state}")
    actions = body.get("instance_actions") or {}
    if not isinstance(actions, dict):
        raise CoordinationError("instance_actions: must be an object of instance id to action")
    for instance, action in actions.items():
        if instance not in session.instances:
            raise CoordinationError(f"instance_actions: {str(instance)[:80]} is not an instance of this session")
        if expected_state not in ACTION_STATES or action not in session.allowed_actions:
            allowed = ", ".join(session.allowed_actions) if expected_state in ACTION_STATES else "none"
            raise CoordinationError(f"instance_actions.{instance}: {str(action)[:40]!r} is not allowed "
                                    f"(allowed: {allowed})")
    return Reply(ack=state.startswith("ACK_"), state=state, instance_actions=dict(actions))


def decide(reply, policy):
    """What the engine does with the host: ``go`` on an ACK, else the campaign's policy
    (a NACK, or None for no reply in time)."""
    if policy not in POLICIES:
        raise CoordinationError(f"policy: {policy!r} is not one of {', '.join(POLICIES)}")
    return "go" if reply is not None and reply.ack else policy
