# Copyright: OPNFV Escalator developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
# Documentation only: the action plugin of the same name does the work on the controller.

from __future__ import annotations

DOCUMENTATION = r"""
module: notify
short_description: Send an upgrade's alarms and events to webhooks, signed
version_added: 0.2.0
description:
  - Sends one event of an upgrade run to every webhook in O(webhooks) that takes it, from
    the controller, in parallel.
  - Alarms (V(node_failed), V(node_restored), V(restore_failed), V(step_hung),
    V(run_stopped)) go out as Alertmanager's webhook JSON (O(webhooks[].format=alertmanager),
    version 4) or as the list of alerts that Alertmanager's own API takes
    (V(alertmanager_api), POST to C(/api/v2/alerts)), so an existing Prometheus and
    Alertmanager set-up routes them as it routes its own.
  - Events (the alarms and the milestones V(run_started), V(component_done), V(run_done))
    go out as CloudEvents 1.0 structured JSON (V(cloudevents)), type
    C(org.opnfv.escalator.<event>).
  - Every delivery is signed the Standard Webhooks way - headers C(webhook-id),
    C(webhook-timestamp) and C(webhook-signature) (C(v1,<base64 HMAC-SHA256>)) - with the
    webhook's own secret, by the C(standardwebhooks) library. Retries of one delivery keep
    its C(webhook-id), so a receiver can drop duplicates.
  - A delivery that fails (refused, timed out, a 5xx or 429 answer) is retried with
    backoff; all deliveries together never take longer than O(max_seconds). A failed
    delivery never fails the task - it is a warning and a record in RV(deliveries). Only a
    webhook setting that is wrong fails it, naming the setting, before anything is sent.
  - Neither the secrets nor the webhooks' addresses (which may hold tokens) appear in the
    result - each webhook is named by O(webhooks[].name).
author:
  - OPNFV Escalator developers (@opnfv)
extends_documentation_fragment:
  - opnfv.escalator.attributes
  - opnfv.escalator.attributes.CONTROLLER
attributes:
  check_mode:
    support: full
    details: In check mode the settings are checked and nothing is sent.
  diff_mode:
    support: none
  idempotent:
    support: none
    details: Each call sends the event again; it never reports a change.
options:
  webhooks:
    description:
      - Where to send. Empty sends nothing.
    type: list
    elements: dict
    required: true
    suboptions:
      url:
        description: The receiver's http or https address.
        type: str
        required: true
      secret:
        description:
          - The Standard Webhooks secret shared with the receiver - C(whsec_) followed by the
            base64 of 24 to 64 random bytes. Keep it in Ansible Vault.
        type: str
        required: true
      format:
        description: What the body is.
        type: str
        choices: [cloudevents, alertmanager, alertmanager_api]
        default: cloudevents
      events:
        description:
          - The events this webhook takes, or V(all). By default every event for
            V(cloudevents), and the alarms for the Alertmanager formats.
        type: raw
      name:
        description: How results and warnings name this webhook; host and port of O(webhooks[].url) by default.
        type: str
      timeout:
        description: Seconds one attempt may take, more than 0 and at most 60.
        type: float
        default: 5
      validate_certs:
        description: Check the receiver's TLS certificate.
        type: bool
        default: true
  event:
    description: What happened.
    type: str
    required: true
    choices: [node_failed, node_restored, restore_failed, step_hung, run_stopped, run_started, component_done, run_done]
  run_id:
    description: The run's id.
    type: str
  campaign:
    description: The campaign's name.
    type: str
  component:
    description: The component concerned.
    type: str
  host:
    description: The node, batch or site concerned.
    type: str
  code:
    description: The error code of a failure, from the catalogue in docs/operations.md.
    type: str
  message:
    description: What happened, in a sentence; the alarm's summary.
    type: str
  next:
    description: What to run next; the alarm's description.
    type: str
  data:
    description: Anything more, sent in the event's data.
    type: dict
    default: {}
  max_seconds:
    description: The longest all deliveries together may take, retries included; more than 0 and at most 300.
    type: float
    default: 10
  retries:
    description: How many times a failed delivery is tried again, 0 to 10.
    type: int
    default: 3
notes:
  - Needs the Python package C(standardwebhooks) on the controller.
seealso:
  - module: opnfv.escalator.wait_for_notification
  - name: Standard Webhooks
    description: The signature scheme.
    link: https://www.standardwebhooks.com
  - name: Alertmanager webhook receiver
    description: The alarm format.
    link: https://prometheus.io/docs/alerting/latest/configuration/#webhook_config
  - name: CloudEvents 1.0
    description: The event format.
    link: https://github.com/cloudevents/spec
"""

EXAMPLES = r"""
- name: Tell the operators' Alertmanager receiver and the event bus that a node failed
  opnfv.escalator.notify:
    webhooks:
      - name: alertmanager
        url: https://alerts.example.net/escalator
        secret: "{{ vault_alerts_webhook_secret }}"
        format: alertmanager
      - name: events
        url: https://events.example.net/hooks/escalator
        secret: "{{ vault_events_webhook_secret }}"
    event: node_failed
    run_id: "{{ escalator_plan.run_id }}"
    component: keystone
    host: ctl2
    code: ESC-VERIFY-001
    message: keystone on ctl2 failed its verify and was restored to 29.1.0
"""

RETURN = r"""
deliveries:
  description: One record per webhook that takes the event.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The webhook's name.
      type: str
    event:
      description: The event sent.
      type: str
    format:
      description: The body's format.
      type: str
    ok:
      description: Whether the receiver answered 2xx.
      type: bool
    status:
      description: The last HTTP status, null when none came.
      type: int
    attempts:
      description: How many times it was sent.
      type: int
    seconds:
      description: How long the delivery took, retries included.
      type: float
    error:
      description: Why the last attempt failed, null when it did not.
      type: str
  sample:
    - {name: alertmanager, event: node_failed, format: alertmanager, ok: true, status: 200, attempts: 1, seconds: 0.012, error: null}
"""
