# Copyright: OPNFV Escalator developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
# Documentation only: the action plugin of the same name does the work on the controller.

from __future__ import annotations

DOCUMENTATION = r"""
module: wait_for_notification
short_description: Wait on the controller for a signed notification, such as "the storage cluster is healthy"
version_added: 0.2.0
description:
  - Listens on O(bind):O(port) on the controller and waits until a signed notification
    comes (from a VIM, an agent or an operator) whose JSON body matches O(match), or until
    O(timeout) passes; then stops listening.
  - Only a C(POST) to O(path) whose Standard Webhooks signature (C(webhook-id),
    C(webhook-timestamp), C(webhook-signature)) verifies with O(secret) is considered.
    Unsigned requests, bad signatures, timestamps more than 5 minutes from now, a
    C(webhook-id) already received (a replay), bodies that are not a JSON object or over
    1 MiB, other paths and other methods are rejected with a 4xx answer, recorded in
    RV(rejected) and warned about, and never acted on.
  - A signed notification that does not match O(match) is answered 202 and ignored; the
    wait goes on.
  - On timeout, O(on_timeout=fail) fails the task (in a campaign step, the step fails and
    the campaign's C(on_failure) applies); V(continue) goes on with RV(timed_out) true.
  - Each request gets 5 seconds to arrive whole, so a stalled client cannot hold the wait.
author:
  - OPNFV Escalator developers (@opnfv)
extends_documentation_fragment:
  - opnfv.escalator.attributes
  - opnfv.escalator.attributes.CONTROLLER
attributes:
  check_mode:
    support: full
    details: In check mode the address is bound to prove it can be, and nothing is awaited.
  diff_mode:
    support: none
  idempotent:
    support: full
    details: It changes nothing; O(replay_file) only grows.
options:
  secret:
    description:
      - The Standard Webhooks secret shared with the sender - C(whsec_) followed by the
        base64 of 24 to 64 random bytes. Keep it in Ansible Vault; it never appears in the
        result.
    type: str
    required: true
  bind:
    description: The address to listen on. Loopback by default; anything else is reachable from the network.
    type: str
    default: 127.0.0.1
  port:
    description: The TCP port to listen on, 1 to 65535.
    type: int
    required: true
  path:
    description: The URL path that takes notifications.
    type: str
    default: /
  timeout:
    description: Seconds to wait, more than 0 and at most a week.
    type: float
    default: 300
  on_timeout:
    description: What a wait that timed out does.
    type: str
    choices: [fail, continue]
    default: fail
  match:
    description:
      - What the awaited notification holds, as dotted paths into its JSON body and their
        values, all of which must be equal (for a CloudEvent, V(type) and V(data.status),
        say). Empty takes the first signed notification.
    type: dict
    default: {}
  tls_certfile:
    description: A PEM certificate (chain) to serve HTTPS with; needs O(tls_keyfile).
    type: path
  tls_keyfile:
    description: The PEM private key of O(tls_certfile).
    type: path
  replay_file:
    description:
      - A file of the C(webhook-id)s already received, read first and written back after, so
        a notification replayed to a later wait is rejected too. Without it, replays are
        refused within one wait only (and by the 5-minute window).
    type: path
notes:
  - Needs the Python package C(standardwebhooks) on the controller.
  - The sender signs the exact bytes of the body; a proxy that rewrites it breaks the signature.
seealso:
  - module: opnfv.escalator.notify
  - name: Standard Webhooks
    description: The signature scheme.
    link: https://www.standardwebhooks.com
"""

EXAMPLES = r"""
- name: Wait until the storage cluster says it is healthy again, at most 10 minutes
  opnfv.escalator.wait_for_notification:
    port: 9443
    path: /escalator/storage
    secret: "{{ vault_storage_webhook_secret }}"
    match:
      type: org.example.storage.health
      data.status: HEALTH_OK
    timeout: 600
    replay_file: /var/lib/escalator/notifications.seen
"""

RETURN = r"""
received:
  description: The notification's JSON body; null after a timeout with O(on_timeout=continue).
  returned: success
  type: dict
  sample: {type: org.example.storage.health, data: {status: HEALTH_OK}}
remote:
  description: The address the notification came from.
  returned: when one was received
  type: str
  sample: 127.0.0.1
id:
  description: Its C(webhook-id).
  returned: when one was received
  type: str
  sample: msg_2b1c3d
url:
  description: Where it listened.
  returned: always
  type: str
  sample: http://127.0.0.1:9443/escalator/storage
waited:
  description: Seconds waited.
  returned: when it waited
  type: float
  sample: 12.4
timed_out:
  description: Whether the wait ended without a matching notification.
  returned: when it waited
  type: bool
ignored:
  description: How many signed notifications did not match O(match).
  returned: when it waited
  type: int
rejected:
  description: The requests refused, each with when, from where, why and the status answered.
  returned: when it waited
  type: list
  elements: dict
  sample: [{at: 1764412345.2, remote: 127.0.0.1, reason: "replayed: webhook-id msg_1 was already received", status: 409}]
"""
