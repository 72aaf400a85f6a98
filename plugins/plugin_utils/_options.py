# Copyright: OPNFV Escalator developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Plan-time checks of a campaign's options against what will run them. Private to the
opnfv.escalator collection.

A campaign that plans must also run: every health check is normalized by the same code
as the health_check module, every maintenance setting is checked against the argument
spec of the maintenance_mode module's backend, and every upgrade method's settings
against the upgrade role's. Values that hold Jinja are rendered per host at run time;
here they stand for a value of the right type.
"""

from __future__ import annotations

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible_collections.opnfv.escalator.plugins.module_utils._health import CheckError, normalize
from ansible_collections.opnfv.escalator.plugins.module_utils._maintenance import BACKEND_OPTIONS
from ansible_collections.opnfv.escalator.plugins.plugin_utils._campaign import UPGRADE_METHODS

# The campaign's settings per backend: the module's options, plus `timeout` (how long the
# drain may wait), which the drain role takes; haproxy names its load balancers' group.
CAMPAIGN_BACKENDS = {
    "none": {},
    "haproxy": dict(
        lb_group=dict(type="str", required=True),
        backend=dict(type="raw", required=True),
        socket=BACKEND_OPTIONS["haproxy"]["socket"],
    ),
    # run_on: the inventory host that calls Nova's API (openstacksdk and the credentials
    # are there); the compute host itself by default.
    "nova": dict(BACKEND_OPTIONS["nova"], run_on=dict(type="str")),
    "command": BACKEND_OPTIONS["command"],
    "pacemaker": BACKEND_OPTIONS["pacemaker"],
}
_TIMEOUT = dict(timeout=dict(type="int"))

_COMMON_UPGRADE = dict(
    method=dict(type="str", required=True, choices=list(UPGRADE_METHODS)),
    services=dict(type="list", elements="str", default=[]),
    version_check=dict(type="dict"),
)
# Each upgrade method's own settings (the campaign's UPGRADE_METHODS, all of them).
METHOD_OPTIONS = {
    "wheelhouse": dict(venv_root=dict(type="str", required=True), current_link=dict(type="str", required=True),
                       wheelhouse_on_node=dict(type="str")),
    "package": dict(packages=dict(type="list", elements="str", required=True)),
    "tasks": dict(tasks_file=dict(type="str", required=True)),
}
# Which artifact each method installs from.
METHOD_ARTIFACTS = {"wheelhouse": ("wheelhouse",), "package": ("package",), "tasks": ("file", "package")}

_NUMBERS = {"port", "rc", "min_count", "retries", "delay", "timeout", "max_latency", "min_free_bytes",
            "min_free_percent"}


def _templated(value):
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def _stand_in(key, value, spec=None):
    """A value of the right type for one that is rendered per host at run time."""
    if not _templated(value):
        return value
    kind = (spec or {}).get(key, {}).get("type")
    if kind in ("int", "float") or (spec is None and key in _NUMBERS):
        return 1
    if kind == "bool":
        return True
    if kind == "list":
        return []
    if kind == "dict":
        return {}
    return "http://templated/" if key == "url" else "templated"


def _spec_errors(spec, params, path):
    out = [(f"{path}.{key}", f"unknown option (options: {', '.join(sorted(spec)) or 'none'})")
           for key in params if key not in spec]
    known = {k: _stand_in(k, v, spec) for k, v in params.items() if k in spec}
    result = ArgumentSpecValidator(spec).validate(known)
    out += [(path, str(err)) for err in result.errors]
    return out


def _checks(checks, path):
    errors = []
    for j, check in enumerate(checks or []):
        if not isinstance(check, dict):
            continue  # the campaign's own validation has said so
        plain = {k: _stand_in(k, v) for k, v in check.items()}
        try:
            normalize([plain], {"retries": 0, "delay": 1, "timeout": 10})
        except CheckError as exc:
            errors.append((f"{path}[{j}]" + str(exc).split(":", 1)[0][len("checks[0]"):], str(exc).split(":", 1)[1].strip()))
    return errors


def _lb_group_errors(backend, settings, path, groups):
    """The haproxy backend's lb_group must be an inventory group."""
    group = settings.get("lb_group")
    if backend == "haproxy" and isinstance(group, str) and not _templated(group) and group not in groups:
        return [(f"{path}.lb_group", f"'{group}' is no inventory group")]
    return []


def check_options(campaign, groups):
    """Every problem with a validated campaign's check, backend and method options:
    a list of (path, message)."""
    errors = []
    for i, comp in enumerate(campaign["components"]):
        path = f"components[{i}]"
        errors += _checks(comp.get("verify"), f"{path}.verify")
        maint = comp.get("maintenance") or {"backend": "none", "settings": {}}
        backend = maint.get("backend") or "none"
        settings = maint.get("settings") or {}
        spec = dict(CAMPAIGN_BACKENDS.get(backend, {}), **_TIMEOUT)
        errors += _spec_errors(spec, settings, f"{path}.maintenance.settings")
        errors += _lb_group_errors(backend, settings, f"{path}.maintenance.settings", groups)
        for when, steps in (comp.get("phases") or {}).items():
            for j, step in enumerate(steps or []):
                override = step.get("maintenance") if isinstance(step, dict) else None
                if isinstance(override, dict) and "settings" in override:
                    # A maintenance of the step's own: its backend and settings alone.
                    where = f"{path}.phases.{when}[{j}].maintenance"
                    own = override["settings"] or {}
                    errors += _spec_errors(dict(CAMPAIGN_BACKENDS.get(override["backend"], {}), **_TIMEOUT), own,
                                           f"{where}.settings")
                    errors += _lb_group_errors(override["backend"], own, f"{where}.settings", groups)
                elif isinstance(override, dict) and override:
                    # The step runs with the component's settings and its own on top:
                    # what is wrong with them together, and was not already with the
                    # component's alone (said above).
                    where = f"{path}.phases.{when}[{j}].maintenance"
                    known = set(_spec_errors(spec, settings, where))
                    errors += [e for e in _spec_errors(spec, dict(settings, **override), where) if e not in known]
        hosts = groups.get("all", [])
        if backend == "nova" and isinstance(settings.get("run_on"), str) and not _templated(settings["run_on"]) \
                and settings["run_on"] not in hosts and settings["run_on"] != "localhost":
            errors.append((f"{path}.maintenance.settings.run_on", f"'{settings['run_on']}' is no inventory host"))
        upgrade = comp.get("upgrade") or {}
        method = upgrade.get("method")
        if method in METHOD_OPTIONS:
            errors += _spec_errors(dict(_COMMON_UPGRADE, **METHOD_OPTIONS[method]), upgrade, f"{path}.upgrade")
            art = (comp.get("artifact") or {}).get("type")
            if art and art not in METHOD_ARTIFACTS[method]:
                errors.append((f"{path}.artifact.type", f"the {method} upgrade method installs from a "
                               f"{' or '.join(METHOD_ARTIFACTS[method])} artifact, not a {art}"))
            if isinstance(upgrade.get("version_check"), dict):
                check = dict(upgrade["version_check"], name="version", type="version", expected="0")
                errors += [(p.replace(".version_check[0]", ".version_check"), m)
                           for p, m in _checks([check], f"{path}.upgrade.version_check")]
    return errors
