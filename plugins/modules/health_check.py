#!/usr/bin/python
# Copyright: OPNFV Escalator developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
module: health_check
short_description: Run read-only health checks on a node
version_added: 0.1.0
description:
  - Runs a list of checks on the managed node and returns every result. Fails, with one
    message naming every failing check, when any check fails.
  - Check types are C(http), C(tcp), C(service) (systemd unit active or enabled),
    C(process), C(command) (exit code, stdout regex), C(disk) (free bytes or percent),
    C(file) (exists, sha256), C(version) (a Python package in a venv, a Debian package,
    or a command's output matched by a regex) and C(haproxy) (servers of an HAProxy
    backend take traffic, read from the runtime API; run it on the load balancer).
  - Never changes anything; runs the same in check mode.
author:
  - OPNFV Escalator developers (@opnfv)
extends_documentation_fragment:
  - opnfv.escalator.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  idempotent:
    support: full
options:
  checks:
    description:
      - The checks. Each has a C(name), a C(type) and the options of its type, and may
        override O(retries), O(delay) and O(timeout).
      - "C(http): C(url) (required), C(method) (default C(GET)), C(headers), C(body),
        C(status) (list, default C([200])), C(body_regex), C(max_latency) (seconds),
        C(validate_certs) (default C(true)), C(ca_path)."
      - "C(tcp): C(host), C(port)."
      - "C(service): C(unit), C(active) (default C(true)), C(enabled)."
      - "C(process): C(pattern) (regex on the command line), C(min_count) (default 1)."
      - "C(command): C(command) (string for C(/bin/sh -c), or list), C(rc) (default 0), C(stdout_regex)."
      - "C(disk): C(path), C(min_free_bytes) and/or C(min_free_percent)."
      - "C(file): C(path), C(exists) (default C(true)), C(sha256)."
      - "C(version): C(expected), and one of C(python_package) with C(venv), C(deb_package),
        or C(command) with an optional C(regex) (its first group, or the whole match, is the version)."
      - "C(haproxy): C(backend) (a name or a list), C(servers) (list of server names that must be UP and neither
        in maintenance nor draining), C(socket) (the runtime API, a unix socket path or
        C(host:port), default C(/run/haproxy/admin.sock))."
    type: list
    elements: dict
    required: true
  retries:
    description: How many times a failing check is tried again, unless the check says otherwise.
    type: int
    default: 0
  delay:
    description: Seconds between two tries of a check.
    type: float
    default: 1
  timeout:
    description: Seconds a network check may wait for an answer.
    type: float
    default: 10
  stable:
    description:
      - Seconds every check must keep passing once all of them have passed. They are run
        again, O(delay) apart, for that long; a check that fails in that window (the node
        passes once and then fails, it flaps) is tried again within what is left of its
        retries, and the window starts again once it passes. When its retries run out, it
        fails saying it flapped.
      - V(0) (the default) takes the first pass.
    type: float
    default: 0
"""

EXAMPLES = r"""
- name: Keystone on this node issues tokens, fast enough
  opnfv.escalator.health_check:
    retries: 10
    delay: 2
    checks:
      - name: keystone token
        type: http
        url: "http://{{ lab_address }}:5000/v3/auth/tokens"
        method: POST
        headers: {Content-Type: application/json}
        body: "{{ token_request | to_json }}"
        status: [201]
        max_latency: 2
      - name: keystone unit
        type: service
        unit: keystone
        enabled: true
      - name: keystone version
        type: version
        python_package: keystone
        venv: /opt/keystone/current
        expected: 29.1.0
      - name: room for snapshots
        type: disk
        path: /var/lib/escalator
        min_free_percent: 10
"""

RETURN = r"""
checks:
  description: One result per check, in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    name: {description: The check's name., type: str, sample: keystone token}
    type: {description: The check's type., type: str, sample: http}
    ok: {description: Whether it passed., type: bool, sample: true}
    detail: {description: What was seen., type: str, sample: status 201 in 0.045s}
    attempts: {description: "Tries made (with O(stable), the window's tries too).", type: int, sample: 1}
    elapsed: {description: Seconds spent on this check., type: float, sample: 0.05}
    failed_first:
      description: What the first failed try saw. Only in the result of a check that passed after failing.
      type: str
      sample: "no answer from http://127.10.0.11:5000/v3: timed out"
    version:
      description: The version found (null when it could not be read). Only in the results of version checks.
      type: str
      sample: 28.1.0
    stable_s:
      description: The seconds every check kept passing. Only when O(stable) is set and every check passed.
      type: float
      sample: 3.0
failed_checks:
  description: Names of the checks that failed.
  returned: always
  type: list
  elements: str
  sample: []
"""

import json

from ansible_collections.opnfv.escalator.plugins.module_utils._arguments import Module
from ansible_collections.opnfv.escalator.plugins.module_utils._health import CheckError, normalize, run_checks


def secret_values(checks):
    """The values of http checks that may be credentials: bodies and header values."""
    found = set()
    for check in checks if isinstance(checks, list) else []:
        if isinstance(check, dict) and check.get("type") == "http":
            if isinstance(check.get("body"), str) and check["body"]:
                found.add(check["body"])
            elif check.get("body") not in (None, "", {}):
                found.add(json.dumps(check["body"], sort_keys=True))
            if isinstance(check.get("headers"), dict):
                found.update(str(v) for v in check["headers"].values() if str(v))
    return found


def main():
    module = Module(
        argument_spec=dict(
            checks=dict(type="list", elements="dict", required=True),
            retries=dict(type="int", default=0),
            delay=dict(type="float", default=1),
            timeout=dict(type="float", default=10),
            stable=dict(type="float", default=0),
        ),
        supports_check_mode=True,
    )
    # An http check's body and headers may carry credentials (a token request): they are
    # never shown, not in the invocation at -vvv, not in a message.
    module.no_log_values.update(secret_values(module.params["checks"]))
    try:
        checks = normalize(module.params["checks"], {k: module.params[k] for k in ("retries", "delay", "timeout")})
    except CheckError as exc:
        module.fail_json(msg=f"Invalid health check: {exc}")
    stable = module.params["stable"]
    if not 0 <= stable <= 3600:  # also refuses .nan
        module.fail_json(msg=f"stable: must be between 0 and 3600 seconds, got {stable}")
    results = run_checks(checks, module.run_command, stable=stable)
    failed = [r for r in results if not r["ok"]]
    if failed:
        module.fail_json(msg=f"{len(failed)} of {len(results)} health check(s) failed: "
                         + "; ".join(f"{r['name']} ({r['detail']})" for r in failed),
                         checks=results, failed_checks=[r["name"] for r in failed])
    module.exit_json(changed=False, checks=results, failed_checks=[])


if __name__ == "__main__":
    main()
