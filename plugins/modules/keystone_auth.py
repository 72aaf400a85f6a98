# Copyright: OPNFV Escalator developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
# Documentation only: the action plugin of the same name does the work on the controller.

from __future__ import annotations

DOCUMENTATION = r"""
module: keystone_auth
short_description: Let a run start only for a Keystone user who carries the required role
version_added: 0.2.0
description:
  - Asks Keystone, from the controller, whose a token is (or gets one for a user name and
    password), and succeeds only when the token is valid, not expired, scoped to
    O(project) when one is given, and carries O(role).
  - C(upgrade.yml) and C(rollback.yml) run it first, with C(escalator_auth=keystone),
    before anything is planned, locked or changed - so before Keystone itself is upgraded,
    and an upgrade of Keystone cannot lock the operator out half way. The user is then
    recorded in the run's lock, audit log and report.
  - The token and the password never appear in the result or in a message.
author:
  - OPNFV Escalator developers (@opnfv)
extends_documentation_fragment:
  - opnfv.escalator.attributes
  - opnfv.escalator.attributes.CONTROLLER
attributes:
  check_mode:
    support: full
    details: It only reads; check mode runs it too.
  diff_mode:
    support: none
  idempotent:
    support: full
options:
  auth_url:
    description: Keystone's address, with or without C(/v3).
    type: str
    required: true
  token:
    description: The user's token (for example from C(openstack token issue)). Preferred over a password.
    type: str
  username:
    description: With O(password), when no O(token) is given.
    type: str
  password:
    description: The password of O(username).
    type: str
  user_domain:
    description: The domain of O(username).
    type: str
    default: Default
  project:
    description: The project (name or id) the token must be scoped to; with a password, the project to scope to.
    type: str
  project_domain:
    description: The domain of O(project), for a password.
    type: str
    default: Default
  role:
    description: The role the token must carry.
    type: str
    default: admin
  validate_certs:
    description: Check Keystone's TLS certificate.
    type: bool
    default: true
  timeout:
    description: Seconds Keystone has to answer (more than 0, at most 300).
    type: float
    default: 10
notes:
  - Keystone lets a user validate its own token, so no service credentials are needed.
seealso:
  - module: opnfv.escalator.run_state
"""

EXAMPLES = r"""
- name: Only a Keystone admin of project admin may start the upgrade
  opnfv.escalator.keystone_auth:
    auth_url: https://keystone.example.net:5000/v3
    token: "{{ lookup('ansible.builtin.env', 'OS_TOKEN') }}"
    project: admin
    role: admin
  register: escalator_auth_user
"""

RETURN = r"""
user:
  description: Who the token belongs to.
  returned: success
  type: dict
  sample: {name: alice, id: 4b3c, domain: Default}
project:
  description: The project the token is scoped to, or null.
  returned: success
  type: dict
  sample: {name: admin, id: 9f2a}
roles:
  description: The token's roles.
  returned: success
  type: list
  elements: str
  sample: [admin, member, reader]
expires_at:
  description: When the token expires.
  returned: success
  type: str
  sample: "2026-12-03T18:00:00.000000Z"
"""
