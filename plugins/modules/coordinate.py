# Copyright: OPNFV Escalator developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
# Documentation only: the action plugin of the same name does the work on the controller.

from __future__ import annotations

DOCUMENTATION = r"""
module: coordinate
short_description: Tell the managers (VNFMs) of the projects on a host of its maintenance, Fenix's way, and wait for their answers
version_added: 0.2.0
description:
  - One step of an OpenStack Fenix maintenance session, run on the controller. Each project
    in O(projects) gets a notification at its O(projects[].url), signed (Standard Webhooks,
    HMAC-SHA256) with its O(projects[].secret) - the AODH event alarm a Fenix-speaking VNFM
    takes, whose event is C(maintenance.planned) (a project state) or, with O(event=host),
    C(maintenance.host) (V(IN_MAINTENANCE) or V(MAINTENANCE_COMPLETE) of O(host)). Deliveries are retried
    with backoff within the reply window.
  - For the states that want an answer (V(MAINTENANCE), V(SCALE_IN),
    V(PREPARE_MAINTENANCE), V(PLANNED_MAINTENANCE), V(MAINTENANCE_COMPLETE)) it serves, on
    O(bind):O(port) while it waits, the notification's C(reply_url),
    C(/v1/maintenance/<session_id>/<project_id>/) - C(GET) gives C({"instance_ids":[...]}),
    the project's instances on the host; C(PUT) takes C({"session_id", "state":"ACK_<state>"|"NACK_<state>",
    "instance_actions":{id:action}}).
  - Only requests signed with the project's secret, within 5 minutes of now, never seen
    before (by C(webhook-id), kept in O(replay_file) across calls), for this session and a
    project notified in it, and naming the awaited state are accepted. Everything else is
    refused with a 4xx answer and recorded in RV(rejected), and the wait goes on.
  - When every project said ACK, RV(decision) is V(go). A NACK, no answer within
    O(reply_timeout), or a notification that could not be delivered gives O(policy) as
    RV(decision); the task itself does not fail, the caller acts on the decision.
author:
  - OPNFV Escalator developers (@opnfv)
extends_documentation_fragment:
  - opnfv.escalator.attributes
  - opnfv.escalator.attributes.CONTROLLER
attributes:
  check_mode:
    support: full
    details: In check mode the address is bound to prove it can be; nothing is sent and RV(decision) is V(go).
  diff_mode:
    support: none
  idempotent:
    support: none
    details: Each call sends its notifications again; a manager should treat a repeated state of one session as one.
options:
  session_id:
    description: The maintenance session, the same for every step of one host's maintenance.
    type: str
    required: true
  state:
    description: The state to tell of.
    type: str
    required: true
    choices: [MAINTENANCE, SCALE_IN, PREPARE_MAINTENANCE, PLANNED_MAINTENANCE, INSTANCE_ACTION_DONE, MAINTENANCE_COMPLETE,
              IN_MAINTENANCE]
  event:
    description:
      - V(project) sends C(maintenance.planned) with a project O(state) (all but V(IN_MAINTENANCE));
        V(host) sends C(maintenance.host) with V(IN_MAINTENANCE) or V(MAINTENANCE_COMPLETE) of O(host),
        which takes no answer.
    type: str
    default: project
    choices: [project, host]
  projects:
    description: The projects to notify, each with its manager's endpoint and the secret shared with it.
    type: list
    elements: dict
    required: true
    suboptions:
      project_id:
        description: The project (tenant) ID.
        type: str
        required: true
      url:
        description: Where its manager takes notifications (a Fenix-speaking VNFM's C(POST /maintenance)).
        type: str
        required: true
      secret:
        description:
          - The Standard Webhooks secret shared with the manager, both ways - C(whsec_) then the
            base64 of 24 to 64 random bytes. Keep it in Ansible Vault; it never appears in the result.
        type: str
        required: true
      instances:
        description:
          - The project's instances on the host, listed by C(GET) on its C(reply_url).
          - With V(INSTANCE_ACTION_DONE), the project gets one notification per instance, each naming it in C(instance_ids).
        type: list
        elements: str
        default: []
  host:
    description: The host in maintenance; required with O(event=host), and sent in C(metadata).
    type: str
  allowed_actions:
    description: What the manager may choose per instance in its answer.
    type: list
    elements: str
    default: [LIVE_MIGRATE, OWN_ACTION]
  reply_timeout:
    description: Seconds the managers have to answer (the notification's C(reply_at)), deliveries included.
    type: float
    default: 60
  policy:
    description: The RV(decision) when a project says NACK, does not answer in time or cannot be reached.
    type: str
    default: fail
    choices: [fail, pause, skip_host]
  bind:
    description: The address to serve C(reply_url) on. Loopback by default.
    type: str
    default: 127.0.0.1
  port:
    description: The TCP port to serve C(reply_url) on, 1 to 65535.
    type: int
    required: true
  public_url:
    description: The base URL the managers reach the controller at, when not C(http://bind:port) (a proxy, a NAT).
    type: str
  tls_certfile:
    description: Serve C(reply_url) over HTTPS with this certificate (PEM); with O(tls_keyfile).
    type: path
  tls_keyfile:
    description: The private key of O(tls_certfile).
    type: path
  validate_certs:
    description: Whether the managers' HTTPS certificates are checked.
    type: bool
    default: true
  send_timeout:
    description: Seconds one delivery attempt may take.
    type: float
    default: 5
  metadata:
    description: Sent in the notification's C(metadata), such as the target release.
    type: dict
    default: {}
  replay_file:
    description: A file that keeps the C(webhook-id)s received, so a reply sent again later is refused.
    type: path
seealso:
  - name: OpenStack Fenix project notifications
    description: The protocol this module speaks.
    link: https://docs.openstack.org/fenix/latest/user/notifications.html
"""

EXAMPLES = r"""
- name: Ask the VNF managers whether compute1 may go into maintenance
  opnfv.escalator.coordinate:
    session_id: "{{ run_id }}-compute1"
    state: PLANNED_MAINTENANCE
    host: compute1
    port: 12790
    reply_timeout: 120
    policy: skip_host
    replay_file: /var/lib/escalator/coordination.seen
    metadata: {target_release: "2026.2"}
    projects:
      - project_id: 7c1a1f0e2d3b4c5d
        url: http://vnfm.example.net:8080/maintenance
        secret: "{{ vault_vnfm_secret }}"
        instances: [4f1a-..., 9e2b-...]
  register: answer

- name: Leave the host alone when a manager declined
  ansible.builtin.meta: end_host
  when: answer.decision == 'skip_host'
"""

RETURN = r"""
decision:
  description: V(go) when every project acknowledged (or for a state without an answer), else O(policy).
  returned: always
  type: str
  sample: go
msg:
  description: What happened, naming each project that said NACK or did not answer.
  returned: always
  type: str
exchanges:
  description:
    - Per project - C(project_id), C(state), C(delivered), C(delivery_status), C(attempts),
      C(delivery_error), C(instances), C(listed) (times it read its list), and for states that
      want an answer C(reply), C(ack), C(instance_actions) and C(latency_s) (from sending to the answer).
  returned: always
  type: list
  elements: dict
  sample: [{project_id: vnf, state: PLANNED_MAINTENANCE, delivered: true, reply: ACK_PLANNED_MAINTENANCE, latency_s: 0.21}]
rejected:
  description: The requests refused, each with when, from where, why and the status answered.
  returned: always
  type: list
  elements: dict
  sample: [{at: 1764412345.2, remote: 127.0.0.1, reason: "wrong session: 'x' is not the session under way", status: 404}]
timed_out:
  description: The projects that did not answer in time or could not be reached.
  returned: when the decision is not go
  type: list
  elements: str
nacked:
  description: The projects that said NACK.
  returned: when the decision is not go
  type: list
  elements: str
waited:
  description: Seconds from the first delivery to the last answer (or the timeout).
  returned: when something was sent
  type: float
url:
  description: The base of C(reply_url).
  returned: always
  type: str
"""
