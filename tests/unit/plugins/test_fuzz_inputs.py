"""Whatever a hurried operator types, validation answers with its own error naming the
field, never with a Python exception (hypothesis). Values are the ones that get mistyped:
wrong types, empty, huge, unicode, paths, shell metacharacters, Jinja, .inf and .nan."""

import copy
import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.opnfv.escalator.plugins.module_utils._health import CHECK_TYPES, OPTIONS, CheckError, normalize
from ansible_collections.opnfv.escalator.plugins.plugin_utils._campaign import CampaignError, validate

SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=10 ** 20, max_value=10 ** 400), st.just(5000).map(lambda digits: 10 ** digits),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=40),
    st.sampled_from(["", " ", "../../etc/passwd", "/", "; rm -rf /", "$(id)", "`id`", "{{ lookup('env','HOME') }}",
                     "${UNDEFINED_VAR}", "29.10", "010", "100%", "-1", "1e999", "\x00", "é" * 300, "\u202e"]))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.text(max_size=12), inner, max_size=4)),
                      max_leaves=12)

BASE = {
    "name": "fuzz", "components": [{
        "name": "keystone", "targets": "controllers", "version": "29.1.0",
        "artifact": {"type": "wheelhouse", "path": "/srv/wh", "sha256": "0" * 64},
        "expected_duration": 60, "maintenance": {"backend": "haproxy", "settings": {"lb_group": "lb", "backend": "k"}},
        "verify": [{"name": "up", "type": "tcp", "host": "127.0.0.1", "port": 5000}],
        "redundancy": {"max_unavailable": 1}, "snapshot": {"paths": ["/etc/keystone"]},
        "upgrade": {"method": "wheelhouse", "venv_root": "/opt/keystone"},
        "phases": {"before": [{"name": "expand", "command": "true"}]}, "on_failure": "rollback_batch"}],
}
FIELDS = ["name", "format", "canary", "timeout_margin", "sites", "stage_parallel", "components",
          "components.0.name", "components.0.targets", "components.0.version", "components.0.artifact",
          "components.0.artifact.type", "components.0.artifact.path", "components.0.artifact.sha256",
          "components.0.artifact.manifest", "components.0.expected_duration", "components.0.maintenance",
          "components.0.maintenance.backend", "components.0.maintenance.settings", "components.0.verify",
          "components.0.verify.0.port", "components.0.verify.0.type", "components.0.redundancy",
          "components.0.redundancy.max_unavailable", "components.0.snapshot", "components.0.snapshot.paths",
          "components.0.upgrade", "components.0.phases", "components.0.phases.before",
          "components.0.phases.before.0.expected_duration", "components.0.on_failure", "components.0.depends_on"]


def _put(doc, path, value):
    parts = path.split(".")
    node = doc
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    last = parts[-1]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


@SETTINGS
@given(st.lists(st.tuples(st.sampled_from(FIELDS), values), min_size=1, max_size=3))
def test_a_mistyped_campaign_gets_a_campaign_error_or_plans(changes):
    doc = copy.deepcopy(BASE)
    for path, value in changes:
        try:
            _put(doc, path, value)
        except (KeyError, IndexError, TypeError, ValueError):
            pass  # an earlier change replaced the parent: the field is gone
    try:
        out = validate(doc)
    except CampaignError as exc:
        assert exc.errors and all(isinstance(p, str) and m for p, m in exc.errors)
        return
    for comp in out["components"]:
        assert isinstance(comp["version"], str) and "/" not in comp["version"]
        assert math.isfinite(comp["expected_duration"])


CHECK_OPTIONS = sorted({k for o in OPTIONS.values() for k in o} | {"retries", "delay", "timeout", "name"})


@SETTINGS
@given(st.sampled_from(CHECK_TYPES), st.dictionaries(st.sampled_from(CHECK_OPTIONS), values, max_size=5))
def test_a_mistyped_check_gets_a_check_error_or_runs(kind, options):
    check = dict({"name": "c", "type": kind}, **options)
    try:
        (spec,) = normalize([check], {"retries": 0, "delay": 1, "timeout": 5})
    except CheckError as exc:
        assert str(exc).startswith("checks[0]")
        return
    for key in ("retries", "delay", "timeout"):
        assert math.isfinite(spec[key]) and spec[key] >= 0
