# Copyright: OPNFV Escalator developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Campaign loading and validation. Private to the opnfv.escalator collection.

Pure Python, no Ansible import: the planner, its tests and its benchmark call it
directly. Every problem is reported with the path of the field it concerns, e.g.
``components[1].redundancy.max_unavailable: must be at least 1``, and all problems
found are reported together.
"""

from __future__ import annotations

import fnmatch
import hashlib
import math
import os
import re

import yaml

FORMAT_VERSION = 1
# A campaign of twenty components with every option set is a few kilobytes.
MAX_CAMPAIGN_BYTES = 1 << 20

ARTIFACT_TYPES = ("wheelhouse", "file", "package")
MAINTENANCE_BACKENDS = ("none", "haproxy", "nova", "pacemaker", "command")
ON_FAILURE = ("rollback_batch", "rollback_all", "pause")
UPGRADE_METHODS = ("wheelhouse", "package", "tasks")
CHECK_TYPES = ("http", "tcp", "service", "process", "command", "disk", "file", "version", "haproxy")

_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
# A version becomes part of paths (/opt/<component>/<version>) and package requests: the
# characters of pip and Debian versions, no '/', no '..', no shell metacharacters.
_VERSION_RE = re.compile(r"^(?!.*\.\.)[A-Za-z0-9][A-Za-z0-9.+~:!_-]{0,63}$")
# A file name inside the artifact's directory.
_FILE_NAME_RE = re.compile(r"^(?!\.\.?$)[A-Za-z0-9._+-]{1,255}$")
# A Debian or RPM package name.
_PACKAGE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9+._-]{0,127}$")
_PERCENT_RE = re.compile(r"^(\d{1,3})%$")
_DURATION_RE = re.compile(r"^(\d{1,9})\s*(s|m|h)?$")
# The longest a step may be expected to take: a week. Beyond it (or .inf, .nan) is a typo.
MAX_DURATION_S = 7 * 24 * 3600
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_ENV_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def shown_number(value):
    """A number as an error message shows it: a huge integer by its size (Python refuses to
    print one of more than 4300 digits)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10 ** 15:
        return f"a {int(value.bit_length() * 0.30103) + 1}-digit number"
    if isinstance(value, float):
        return f"{value:.6g}"
    try:
        text = repr(value)
    except ValueError:  # holds an integer too large to print
        return f"a {_type_name(value)} holding a huge number"
    return text if len(text) <= 80 else text[:77] + "..."


class CampaignError(Exception):
    """A campaign that cannot be planned. ``errors`` is a list of (path, message)."""

    def __init__(self, errors):
        self.errors = sorted(set(errors), key=lambda e: (_path_key(e[0]), e[1]))
        super().__init__("\n".join(f"{p}: {m}" if p else m for p, m in self.errors))


def _path_key(path):
    # components[10] sorts after components[9]; a number and a name never meet in a comparison.
    return [(0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"[\[\].]+", path) if t]


class _Checker:
    """Collects errors while walking a campaign document."""

    def __init__(self):
        self.errors = []

    def error(self, path, message):
        self.errors.append((path, message))

    def mapping(self, value, path, required=(), optional=()):
        """A dict with exactly the given keys; returns it, or None when it is no dict."""
        if not isinstance(value, dict):
            self.error(path, f"must be a mapping, got {_type_name(value)}")
            return None
        for key in required:
            if key not in value:
                self.error(_join(path, key), "is required")
        known = set(required) | set(optional)
        for key in value:
            if key not in known:
                hint = _closest(str(key), known)
                self.error(_join(path, str(key)), "unknown field" + (f" (did you mean '{hint}'?)" if hint else ""))
        return value

    def string(self, value, path, choices=None, pattern=None, what=None):
        if not isinstance(value, str) or not value.strip():
            self.error(path, f"must be a non-empty string, got {_type_name(value)}")
            return None
        if choices and value not in choices:
            self.error(path, f"must be one of {', '.join(choices)}, got '{value}'")
            return None
        if pattern and not pattern.match(value):
            self.error(path, f"must be {what}, got '{value}'")
            return None
        return value

    def string_list(self, value, path, allow_single=False):
        if allow_single and isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            self.error(path, f"must be a list of strings, got {_type_name(value)}")
            return []
        out = []
        for i, item in enumerate(value):
            s = self.string(item, f"{path}[{i}]")
            if s is not None:
                out.append(s)
        return out

    def port(self, value, path):
        """A TCP port, 1 to 65535: one above would silently be another port."""
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
            number = isinstance(value, (int, float)) and not isinstance(value, bool)
            self.error(path, f"must be a TCP port, 1 to 65535, got {shown_number(value) if number else _type_name(value)}")
            return None
        return value

    def boolean(self, value, path):
        if not isinstance(value, bool):
            self.error(path, f"must be true or false, got {_type_name(value)}")
            return None
        return value

    def duration(self, value, path, allow_zero=False, most=None):
        """Seconds as an integer, or a string like '90s', '2m', '1h'."""
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            self.error(path, f"must be a duration (seconds, or '90s', '2m', '1h'), got {_type_name(value)}")
            return None
        if isinstance(value, str):
            m = _DURATION_RE.match(value.strip())
            if not m:
                self.error(path, f"must be a duration (seconds, or '90s', '2m', '1h'), got '{value}'")
                return None
            value = int(m.group(1)) * {"s": 1, None: 1, "m": 60, "h": 3600}[m.group(2)]
        if isinstance(value, float) and math.isnan(value):
            self.error(path, "must be a duration (seconds, or '90s', '2m', '1h'), got .nan")
            return None
        if value < 0 or (value == 0 and not allow_zero):
            self.error(path, "must be 0 seconds or more" if allow_zero else "must be more than 0 seconds")
            return None
        if most is not None and value > most:
            self.error(path, f"must be at most {most} seconds, got {shown_number(value)}")
            return None
        if value > MAX_DURATION_S:
            self.error(path, f"must be at most {MAX_DURATION_S} seconds (a week), got {shown_number(value)}")
            return None
        return float(value)

    def budget(self, value, path):
        """An absolute count (int >= 0 checked by the caller's meaning) or a percentage."""
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            self.error(path, f"must be a whole number or a percentage like '25%', got {_type_name(value)}")
            return None
        if isinstance(value, str):
            m = _PERCENT_RE.match(value.strip())
            if not m:
                self.error(path, f"must be a whole number or a percentage like '25%', got '{value}'")
                return None
            pct = int(m.group(1))
            if pct > 100:
                self.error(path, f"must be at most 100%, got '{value}'")
                return None
            return ("percent", pct)
        return ("count", value)


def _join(path, key):
    return f"{path}.{key}" if path else key


def _type_name(value):
    if value is None:
        return "nothing"
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean",
            int: "a number", float: "a number"}.get(type(value), type(value).__name__)


def _closest(word, candidates):
    """A known field name one or two edits away, to suggest for a typo."""
    best = None
    for cand in sorted(candidates):
        d = _edit_distance(word, cand)
        if d <= 2 and (best is None or d < best[0]):
            best = (d, cand)
    return best[1] if best else None


def _edit_distance(a, b):
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


# ----------------------------------------------------------------------------------
# The campaign document
# ----------------------------------------------------------------------------------

_TOP_REQUIRED = ("name", "components")
_TOP_OPTIONAL = ("format", "description", "canary", "timeout_margin", "sites", "stage_parallel")
STAGE_PARALLEL = 4
_COMPONENT_REQUIRED = ("name", "targets", "version", "artifact", "expected_duration")
_COMPONENT_OPTIONAL = ("depends_on", "redundancy", "maintenance", "snapshot", "verify", "verify_timeout",
                       "verify_stable", "on_failure", "coordination", "phases", "upgrade", "rollback_check")


class _StrictLoader(yaml.SafeLoader):  # pylint: disable=too-many-ancestors
    """PyYAML's safe loader, refusing a key given twice in one mapping (the last would
    silently win: a budget of 1 became 100%)."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen = {}
            for key_node, dummy in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                line = key_node.start_mark.line + 1
                if isinstance(key, (str, int, float, bool)) and key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"the key {key!r} is given twice (lines {seen[key]} and {line}); the last would "
                        "silently win: keep one", key_node.start_mark)
                if isinstance(key, (str, int, float, bool)):
                    seen[key] = line
        return super().construct_mapping(node, deep=deep)


def load_text(text):
    """A campaign document from its YAML text: at most MAX_CAMPAIGN_BYTES, no key given twice.
    Raises ValueError saying what is wrong and where."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_CAMPAIGN_BYTES:
        raise ValueError(f"is {size} bytes; a campaign may have at most {MAX_CAMPAIGN_BYTES} (1 MiB)")
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader
    except yaml.YAMLError as exc:
        raise ValueError(f"is not valid YAML: {exc}") from None
    except RecursionError:
        raise ValueError("nests too deeply to be a campaign") from None


def validate(doc, base_dir="."):
    """Check a campaign document's shape and values; return it normalized.

    Raises CampaignError with every problem found. Inventory-dependent checks (targets,
    budgets) are done by ``resolve``; artifact contents by ``check_artifacts``.
    """
    c = _Checker()
    top = c.mapping(doc, "", _TOP_REQUIRED, _TOP_OPTIONAL)
    if top is None:
        raise CampaignError(c.errors)
    out = {
        "name": c.string(top.get("name"), "name") if "name" in top else None,
        "description": top.get("description", ""),
        "canary": True,
        "timeout_margin": 1.5,
        "sites": None,
        "stage_parallel": STAGE_PARALLEL,
        "components": [],
    }
    if "format" in top and (isinstance(top["format"], bool) or top["format"] != FORMAT_VERSION):
        c.error("format", f"must be {FORMAT_VERSION}, the campaign format this collection reads")
    if "canary" in top:
        out["canary"] = c.boolean(top["canary"], "canary")
    if "timeout_margin" in top:
        tm = top["timeout_margin"]
        if isinstance(tm, bool) or not isinstance(tm, (int, float)) or not 1 <= tm <= 100:  # NaN fails too
            c.error("timeout_margin", f"must be a number from 1 to 100, got {shown_number(tm)}")
        else:
            out["timeout_margin"] = float(tm)
    if "stage_parallel" in top:
        sp = top["stage_parallel"]
        if isinstance(sp, bool) or not isinstance(sp, int) or not 1 <= sp <= 1000:
            c.error("stage_parallel", f"must be a whole number from 1 to 1000, got {shown_number(sp)}")
        else:
            out["stage_parallel"] = sp
    if "sites" in top:
        sites = c.mapping(top["sites"], "sites", ("match",), ("one_at_a_time",))
        if sites is not None:
            out["sites"] = {
                "match": c.string(sites.get("match"), "sites.match") if "match" in sites else None,
                "one_at_a_time": c.boolean(sites.get("one_at_a_time", True), "sites.one_at_a_time"),
            }
    comps = top.get("components")
    if "components" in top:
        if not isinstance(comps, list) or not comps:
            c.error("components", f"must be a non-empty list, got {_type_name(comps) if comps != [] else 'an empty list'}")
        else:
            for i, comp in enumerate(comps):
                out["components"].append(_component(c, comp, f"components[{i}]", base_dir))
    names = [comp["name"] for comp in out["components"] if comp and comp.get("name")]
    for i, comp in enumerate(out["components"]):
        if comp is None:
            continue
        if comp.get("name") and names.count(comp["name"]) > 1 and names.index(comp["name"]) != i:
            c.error(f"components[{i}].name", f"'{comp['name']}' is used by more than one component")
        for j, dep in enumerate(comp.get("depends_on", [])):
            if dep == comp.get("name"):
                c.error(f"components[{i}].depends_on[{j}]", "a component cannot depend on itself")
            elif dep not in names:
                c.error(f"components[{i}].depends_on[{j}]", f"no component is named '{dep}'")
    if c.errors:
        raise CampaignError(c.errors)
    cycle = find_cycle(out["components"])
    if cycle:
        raise CampaignError([("components", "dependency cycle: " + " -> ".join(cycle))])
    return out


def _component(c, comp, path, base_dir):
    m = c.mapping(comp, path, _COMPONENT_REQUIRED, _COMPONENT_OPTIONAL)
    if m is None:
        return None
    out = {
        "name": c.string(m["name"], f"{path}.name", pattern=_NAME_RE,
                         what="lower case letters, digits, '-' or '_', starting with a letter")
        if "name" in m else None,
        "targets": c.string_list(m["targets"], f"{path}.targets", allow_single=True) if "targets" in m else [],
        "version": None,
        "artifact": None,
        "expected_duration": None,
        "depends_on": c.string_list(m.get("depends_on", []), f"{path}.depends_on"),
        "redundancy": _redundancy(c, m.get("redundancy", {"max_unavailable": 1}), f"{path}.redundancy"),
        "maintenance": _maintenance(c, m.get("maintenance", {"backend": "none"}), f"{path}.maintenance"),
        "snapshot": _snapshot(c, m.get("snapshot", {}), f"{path}.snapshot"),
        "verify": _checks(c, m.get("verify", []), f"{path}.verify"),
        # How long a node's checks may keep failing after its upgrade before it counts as
        # failed (and is restored): by default the node's whole time limit.
        "verify_timeout": c.duration(m["verify_timeout"], f"{path}.verify_timeout") if "verify_timeout" in m else None,
        # How long every check must keep passing before the node is put back: a node that
        # passes once and then fails (it flaps) is caught before it takes traffic.
        "verify_stable": c.duration(m["verify_stable"], f"{path}.verify_stable", allow_zero=True, most=600)
        if "verify_stable" in m else 0,
        "on_failure": c.string(m.get("on_failure", "rollback_batch"), f"{path}.on_failure", choices=ON_FAILURE),
        "coordination": _coordination(c, m["coordination"], f"{path}.coordination", _backend_of(m))
        if "coordination" in m else None,
        "phases": _phases(c, m.get("phases", {}), f"{path}.phases", _backend_of(m)),
        "upgrade": _upgrade(c, m.get("upgrade", {"method": "tasks"}), f"{path}.upgrade"),
        "rollback_check": _step(c, m["rollback_check"], f"{path}.rollback_check",
                                optional=("expected_duration", "success", "run_on", "once"))
        if "rollback_check" in m else None,
    }
    if "targets" in m and not out["targets"] and isinstance(m["targets"], list):
        c.error(f"{path}.targets", "must name at least one group or pattern")
    if "version" in m:
        v = m["version"]
        # YAML reads 29.10 as the number 29.1 and 010 as 8: a version is text, in quotes.
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            c.error(f"{path}.version", f"must be text: write it in quotes, e.g. '{shown_number(v)}' (YAML reads an unquoted "
                                       "29.10 as the number 29.1)")
        else:
            out["version"] = c.string(v, f"{path}.version", pattern=_VERSION_RE,
                                      what="a version (letters, digits and . + ~ : ! _ -, no '/' or '..')")
    if "artifact" in m:
        out["artifact"] = _artifact(c, m["artifact"], f"{path}.artifact", base_dir)
    if "expected_duration" in m:
        out["expected_duration"] = c.duration(m["expected_duration"], f"{path}.expected_duration")
    return out


def _backend_of(m):
    """The component's maintenance backend as written, none when absent or malformed."""
    maintenance = m.get("maintenance")
    return ((maintenance.get("backend") or "none") if isinstance(maintenance, dict) else "none")


def _budget_fields(c, m, path, default_max=None):
    """The max_unavailable / min_available pair of a budget mapping."""
    has_max, has_min = "max_unavailable" in m, "min_available" in m
    if has_max and has_min:
        c.error(path, "set max_unavailable or min_available, not both")
        return None
    if not has_max and not has_min:
        if default_max is None:
            c.error(path, "needs max_unavailable or min_available")
            return None
        return ("max_unavailable", ("count", default_max))
    key = "max_unavailable" if has_max else "min_available"
    val = c.budget(m[key], f"{path}.{key}")
    if val is None:
        return None
    kind, n = val
    if key == "max_unavailable" and n < 1:
        c.error(f"{path}.{key}", "must be at least 1" if kind == "count" else "must be more than 0%")
        return None
    if key == "min_available" and n < 0:
        c.error(f"{path}.{key}", "must be at least 0")
        return None
    return (key, val)


def _redundancy(c, value, path):
    m = c.mapping(value, path, (), ("max_unavailable", "min_available", "groups", "anti_affinity"))
    if m is None:
        return None
    out = {"budget": _budget_fields(c, m, path, default_max=1), "groups": [], "anti_affinity": []}
    groups = m.get("groups", [])
    if not isinstance(groups, list):
        c.error(f"{path}.groups", f"must be a list, got {_type_name(groups)}")
        groups = []
    for i, g in enumerate(groups):
        gp = f"{path}.groups[{i}]"
        gm = c.mapping(g, gp, ("match",), ("max_unavailable", "min_available"))
        if gm is None:
            continue
        match = c.string(gm.get("match"), f"{gp}.match") if "match" in gm else None
        budget = _budget_fields(c, gm, gp)
        if match and budget:
            out["groups"].append({"match": match, "budget": budget})
    out["anti_affinity"] = c.string_list(m.get("anti_affinity", []), f"{path}.anti_affinity")
    return out


def _artifact(c, value, path, base_dir):
    m = c.mapping(value, path, ("type",), ("path", "manifest", "sha256", "name"))
    if m is None:
        return None
    kind = c.string(m.get("type"), f"{path}.type", choices=ARTIFACT_TYPES) if "type" in m else None
    out = {"type": kind, "path": None, "manifest": None, "sha256": None, "name": m.get("name")}
    if kind in ("wheelhouse", "file"):
        for key in ("path", "sha256"):
            if key not in m:
                c.error(f"{path}.{key}", f"is required for a {kind} artifact")
        if "path" in m and c.string(m["path"], f"{path}.path"):
            raw = expand_env(os.path.expanduser(m["path"]))
            out["path"] = os.path.normpath(os.path.join(base_dir, raw))
        if "sha256" in m:
            sha = m["sha256"]
            if not isinstance(sha, str) or not _SHA256_RE.match(sha.lower()):
                c.error(f"{path}.sha256", "must be 64 hexadecimal digits")
            else:
                out["sha256"] = sha.lower()
        if kind == "wheelhouse":
            out["manifest"] = c.string(m.get("manifest", "SHA256SUMS"), f"{path}.manifest", pattern=_FILE_NAME_RE,
                                       what="a file name in the wheelhouse directory (no '/')")
        elif "manifest" in m:
            c.error(f"{path}.manifest", "only a wheelhouse artifact has a manifest")
    elif kind == "package":
        if "name" not in m:
            c.error(f"{path}.name", "is required for a package artifact")
        else:
            c.string(m["name"], f"{path}.name", pattern=_PACKAGE_RE, what="a package name")
        for key in ("path", "manifest"):
            if key in m:
                c.error(f"{path}.{key}", "a package artifact comes from the hosts' package repositories")
    return out


def expand_env(text, env=None):
    """Expand ${NAME} and ${NAME:-default} from the environment; unknown names stay as written."""
    env = os.environ if env is None else env

    def repl(m):
        if m.group(1) in env:
            return env[m.group(1)]
        return m.group(2) if m.group(2) is not None else m.group(0)

    return _ENV_RE.sub(repl, text)


def _maintenance(c, value, path):
    m = c.mapping(value, path, ("backend",), ("settings",))
    if m is None:
        return None
    backend = c.string(m.get("backend"), f"{path}.backend", choices=MAINTENANCE_BACKENDS) if "backend" in m else None
    settings = m.get("settings", {})
    if not isinstance(settings, dict):
        c.error(f"{path}.settings", f"must be a mapping, got {_type_name(settings)}")
        settings = {}
    return {"backend": backend, "settings": settings}


def _snapshot(c, value, path):
    m = c.mapping(value, path, (), ("paths", "venvs", "packages", "commands"))
    if m is None:
        return None
    out = {key: c.string_list(m.get(key, []), f"{path}.{key}") for key in ("paths", "venvs", "packages")}
    for key in ("paths", "venvs"):
        for i, p in enumerate(out[key]):
            if not p.startswith("/"):
                c.error(f"{path}.{key}[{i}]", f"must be an absolute path, got '{p}'")
    cmds = m.get("commands", [])
    out["commands"] = []
    if not isinstance(cmds, list):
        c.error(f"{path}.commands", f"must be a list, got {_type_name(cmds)}")
        cmds = []
    for i, cmd in enumerate(cmds):
        cm = c.mapping(cmd, f"{path}.commands[{i}]", ("name", "dump", "restore"), ("compare_ignore",))
        if cm is not None:
            for key in ("name", "dump", "restore"):
                if key in cm:
                    c.string(cm[key], f"{path}.commands[{i}].{key}")
            out["commands"].append(cm)
    return out


def _checks(c, value, path):
    if not isinstance(value, list):
        c.error(path, f"must be a list of checks, got {_type_name(value)}")
        return []
    seen = set()
    for i, check in enumerate(value):
        cp = f"{path}[{i}]"
        if not isinstance(check, dict):
            c.error(cp, f"must be a mapping, got {_type_name(check)}")
            continue
        for key in ("name", "type"):
            if key not in check:
                c.error(f"{cp}.{key}", "is required")
        name = c.string(check["name"], f"{cp}.name") if "name" in check else None
        if "type" in check:
            c.string(check["type"], f"{cp}.type", choices=CHECK_TYPES)
        if name in seen:
            c.error(f"{cp}.name", f"'{name}' is used by another check")
        seen.add(name)
    return value


COORDINATION_POLICIES = ("fail", "pause", "skip_host")
COORDINATION_ACTIONS = ("MIGRATE", "LIVE_MIGRATE", "OWN_ACTION")
_PROJECT_ID_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def _coordination(c, value, path, backend="none"):
    """The managers (VNFMs) told before a host goes out: per project its endpoint and
    secret, how a host's instances are found, where replies come, and what a NACK does."""
    m = c.mapping(value, path, ("projects", "listen"),
                  ("instances", "timeout", "on_decline", "required", "allowed_actions"))
    if m is None:
        return None
    projects = {}
    given = m.get("projects")
    if "projects" in m and (not isinstance(given, dict) or not given):
        c.error(f"{path}.projects", f"must be a mapping of project ID to its manager's url and secret, got "
                                    f"{_type_name(given)}")
    for pid, manager in (given.items() if isinstance(given, dict) else ()):
        where = f"{path}.projects.{pid}"
        if not isinstance(pid, str) or not (pid == "*" or _PROJECT_ID_RE.match(pid)):
            c.error(where, "a project ID is 1 to 64 letters, digits and . _ -, or * for every project without "
                           "an entry of its own")
            continue
        mm = c.mapping(manager, where, ("url", "secret"))
        if mm is None:
            continue
        url = c.string(mm.get("url"), f"{where}.url") if "url" in mm else None
        if url and "{{" not in url and not re.match(r"^https?://[^/\s]+", url):
            c.error(f"{where}.url", f"must be an http:// or https:// URL, got '{url[:80]}'")
        # As for a wait step's secret: never written in the campaign, nor shown.
        if "secret" in mm and not _is_template(mm["secret"]):
            c.error(f"{where}.secret", "must name a variable that holds it, such as '{{ vault_vnfm_secret }}': "
                                       "the campaign is kept with every run, and a secret written in it would be too")
        projects[pid] = True
    instances = None
    if "instances" in m:
        im = c.mapping(m["instances"], f"{path}.instances", ("command",), ("run_on",))
        if im is not None:
            instances = {"command": c.string(im.get("command"), f"{path}.instances.command") if "command" in im
                         else None, "run_on": c.string(im["run_on"], f"{path}.instances.run_on") if "run_on" in im
                         else None}
    elif backend != "nova":
        c.error(f"{path}.instances", "is required unless maintenance.backend is nova (which asks Nova): a command "
                                     "that prints the host's instances per project as JSON")
    listen = {}
    lm = c.mapping(m["listen"], f"{path}.listen", ("port",), ("bind", "public_url", "tls_certfile", "tls_keyfile")) \
        if "listen" in m else None
    if lm is not None:
        if "port" in lm and c.port(lm["port"], f"{path}.listen.port") is not None:
            listen["port"] = lm["port"]
        listen["bind"] = c.string(lm.get("bind", "127.0.0.1"), f"{path}.listen.bind")
        if "public_url" in lm:
            public = c.string(lm["public_url"], f"{path}.listen.public_url")
            if public and not re.match(r"^https?://[^/\s]+", public):
                c.error(f"{path}.listen.public_url", f"must be an http:// or https:// URL, got '{public[:80]}'")
            listen["public_url"] = public
        if ("tls_certfile" in lm) != ("tls_keyfile" in lm):
            c.error(f"{path}.listen", "give both tls_certfile and tls_keyfile (PEM files on the controller), or neither")
        for key in ("tls_certfile", "tls_keyfile"):
            if key in lm:
                listen[key] = c.string(lm[key], f"{path}.listen.{key}")
    actions = c.string_list(m.get("allowed_actions", ["LIVE_MIGRATE", "OWN_ACTION"]), f"{path}.allowed_actions")
    for i, action in enumerate(actions):
        if action not in COORDINATION_ACTIONS:
            c.error(f"{path}.allowed_actions[{i}]", f"must be one of {', '.join(COORDINATION_ACTIONS)}, got '{action}'")
    return {
        "projects": sorted(projects),
        "instances": instances,
        "listen": listen,
        "timeout": c.duration(m["timeout"], f"{path}.timeout") if "timeout" in m else 60.0,
        "on_decline": c.string(m.get("on_decline", "fail"), f"{path}.on_decline", choices=COORDINATION_POLICIES),
        "required": c.boolean(m.get("required", True), f"{path}.required"),
        "allowed_actions": actions,
    }


def _phases(c, value, path, backend="none"):
    m = c.mapping(value, path, (), ("before", "after"))
    if m is None:
        return None
    out = {}
    for when in ("before", "after"):
        steps = m.get(when, [])
        out[when] = []
        if not isinstance(steps, list):
            c.error(f"{path}.{when}", f"must be a list, got {_type_name(steps)}")
            continue
        for i, step in enumerate(steps):
            step_out = _step(c, step, f"{path}.{when}[{i}]", backend, waits=True)
            if step_out is not None:
                out[when].append(step_out)
    return out


_STEP_OPTIONAL = ("expected_duration", "snapshot", "success", "run_on", "once", "maintenance")
# A phase step is a command, or a wait on the controller for a signed notification.
_WAIT_REQUIRED = ("port", "secret")
_WAIT_OPTIONAL = ("bind", "path", "match", "on_timeout", "replay_file", "tls_certfile", "tls_keyfile")
_WAIT_STEP_OPTIONAL = ("expected_duration",)


def _step(c, step, sp, backend="none", optional=_STEP_OPTIONAL, waits=False):
    """A command step (a phase step, or a rollback check): name, command and the optional
    fields given. With waits, a phase step may instead wait for a signed notification."""
    if waits and isinstance(step, dict) and "wait_for_notification" in step:
        return _wait_step(c, step, sp)
    sm = c.mapping(step, sp, ("name", "command"), optional + (("wait_for_notification",) if waits else ()))
    if sm is None:
        return None
    if "name" in sm:
        c.string(sm["name"], f"{sp}.name")
    if "command" in sm:
        cmd = sm["command"]
        if isinstance(cmd, list):
            c.string_list(cmd, f"{sp}.command")
        else:
            c.string(cmd, f"{sp}.command")
    step_out = dict(sm)
    if "expected_duration" in sm:
        step_out["expected_duration"] = c.duration(sm["expected_duration"], f"{sp}.expected_duration")
    if "snapshot" in sm:
        c.boolean(sm["snapshot"], f"{sp}.snapshot")
    if "run_on" in sm:
        c.string(sm["run_on"], f"{sp}.run_on")
    if "once" in sm:
        c.boolean(sm["once"], f"{sp}.once")
    if "success" in sm:
        step_out["success"] = _success(c, sm["success"], f"{sp}.success")
    if "maintenance" in sm:
        step_out["maintenance"] = _step_maintenance(c, sm["maintenance"], f"{sp}.maintenance", backend)
    return step_out


def _is_template(value):
    return isinstance(value, str) and "{{" in value


def _wait_step(c, step, sp):
    """A step that waits on the controller for a signed notification (the
    wait_for_notification action); how long: the step's time limit."""
    command_only = [k for k in step if k in ("command",) + _STEP_OPTIONAL and k not in _WAIT_STEP_OPTIONAL]
    for key in command_only:
        c.error(_join(sp, key), "does not apply to a wait_for_notification step, which waits on the controller "
                                "(it takes name, wait_for_notification and expected_duration)")
    sm = c.mapping({k: v for k, v in step.items() if k not in command_only}, sp, ("name", "wait_for_notification"),
                   _WAIT_STEP_OPTIONAL)
    if "name" in sm:
        c.string(sm["name"], f"{sp}.name")
    out = dict(sm)
    if "expected_duration" in sm:
        out["expected_duration"] = c.duration(sm["expected_duration"], f"{sp}.expected_duration")
    wp = f"{sp}.wait_for_notification"
    w = c.mapping(sm["wait_for_notification"], wp, _WAIT_REQUIRED, _WAIT_OPTIONAL)
    if w is None:
        return out
    if "port" in w and not _is_template(w["port"]):
        c.port(w["port"], f"{wp}.port")
    if "secret" in w and not _is_template(w["secret"]):
        c.error(f"{wp}.secret", "must name a variable that holds it, such as '{{ vault_storage_webhook_secret }}': "
                                "the campaign is kept with every run, and a secret written in it would be too")
    for key in ("bind", "replay_file", "tls_certfile", "tls_keyfile"):
        if key in w:
            c.string(w[key], f"{wp}.{key}")
    if "path" in w and c.string(w["path"], f"{wp}.path") and not _is_template(w["path"]) and (
            not w["path"].startswith("/") or any(ch in w["path"] for ch in "?# \t")):
        c.error(f"{wp}.path", f"must be an absolute URL path such as /escalator, got '{w['path']}'")
    if "on_timeout" in w:
        c.string(w["on_timeout"], f"{wp}.on_timeout", choices=("fail", "continue"))
    if "match" in w and not isinstance(w["match"], dict):
        c.error(f"{wp}.match", f"must be a mapping of dotted paths to values, got {_type_name(w['match'])}")
    if ("tls_certfile" in w) != ("tls_keyfile" in w):
        c.error(f"{wp}.tls_keyfile", "tls_certfile and tls_keyfile go together")
    return out


def _step_maintenance(c, value, path, backend):
    """A step run with each of its hosts out of service: true (through the component's
    maintenance backend), settings that override the component's for this step (checked
    with them against the backend when planning), or a maintenance of the step's own,
    `backend` and `settings` as a component's (for hosts that are not the component's
    nodes, e.g. the controllers of a compute component). False: no maintenance."""
    if value is False:
        return None
    if value is not True and not isinstance(value, dict):
        c.error(path, f"must be true, false or a mapping of maintenance settings, got {_type_name(value)}")
        return None
    if isinstance(value, dict) and "settings" in value:
        own = _maintenance(c, value, path)
        if own is None:
            return None
        if own["backend"] in (None, "none"):
            c.error(f"{path}.backend", "a step's own maintenance needs a backend other than none: "
                                       f"one of {', '.join(b for b in MAINTENANCE_BACKENDS if b != 'none')}")
            return None
        return own
    if backend == "none":
        c.error(path, "takes the step's hosts out of service through the component's maintenance backend, "
                      "and the component has none (set maintenance.backend, or give the step its own "
                      "backend and settings)")
        return None
    return {} if value is True else value


def _success(c, value, path):
    """When a step succeeded: its exit code is one of rc, and its output (stdout and
    stderr) matches no fail_if and matches every require. For tools whose exit code
    mixes results that matter with ones that do not (a warning about a hypervisor the
    cloud does not run), the named results are judged instead."""
    m = c.mapping(value, path, (), ("rc", "fail_if", "require"))
    if m is None:
        return None
    out = {"rc": [0], "fail_if": [], "require": []}
    if "rc" in m:
        codes = m["rc"] if isinstance(m["rc"], list) else [m["rc"]]
        if not codes or not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 255 for v in codes):
            c.error(f"{path}.rc", f"must be an exit code (0 to 255) or a list of them, got {m['rc']!r}")
        else:
            out["rc"] = codes
    for key in ("fail_if", "require"):
        if key not in m:
            continue
        patterns = m[key] if isinstance(m[key], list) else [m[key]]
        for k, pattern in enumerate(patterns):
            where = f"{path}.{key}" + (f"[{k}]" if isinstance(m[key], list) else "")
            if not isinstance(pattern, str) or not pattern:
                c.error(where, f"must be a regular expression, got {_type_name(pattern)}")
                continue
            try:
                re.compile(pattern)
            except re.error as exc:
                c.error(where, f"is not a valid regular expression: {exc}")
                continue
            out[key].append(pattern)
    return out


def _upgrade(c, value, path):
    if not isinstance(value, dict):
        c.error(path, f"must be a mapping, got {_type_name(value)}")
        return None
    if "method" not in value:
        c.error(f"{path}.method", "is required")
        return None
    c.string(value["method"], f"{path}.method", choices=UPGRADE_METHODS)
    return dict(value)


def find_cycle(components):
    """The first dependency cycle as a list of names ending where it started, or None."""
    deps = {comp["name"]: comp["depends_on"] for comp in components}
    state = {}

    def visit(name, stack):
        state[name] = "open"
        stack.append(name)
        for dep in deps.get(name, []):
            if state.get(dep) == "open":
                return stack[stack.index(dep):] + [dep]
            if dep not in state:
                found = visit(dep, stack)
                if found:
                    return found
        stack.pop()
        state[name] = "done"
        return None

    for comp in components:
        if comp["name"] not in state:
            found = visit(comp["name"], [])
            if found:
                return found
    return None


# ----------------------------------------------------------------------------------
# Inventory patterns
# ----------------------------------------------------------------------------------

def match_pattern(pattern, groups, all_hosts):
    """Hosts selected by an Ansible-style host pattern, in inventory order.

    Supported: group or host names, shell globs on either (``ctl*``), unions with
    ``:`` or ``,``, intersections with ``&`` and exclusions with ``!``
    (``computes:&site_a:!maint``). ``groups`` maps group name -> hosts in inventory
    order; ``all_hosts`` is every host in inventory order.
    """
    order = {h: i for i, h in enumerate(all_hosts)}
    selected = set()
    terms = [t.strip() for t in re.split(r"[:,]", pattern) if t.strip()]
    # As in Ansible: unions first, then intersections, then exclusions.
    for op in ("", "&", "!"):
        for term in terms:
            this_op = term[0] if term[0] in "&!" else ""
            if this_op != op:
                continue
            hosts = _match_term(term[len(op):], groups, all_hosts)
            if op == "":
                selected |= hosts
            elif op == "&":
                selected &= hosts
            else:
                selected -= hosts
    return sorted(selected, key=order.__getitem__)


def _match_term(term, groups, all_hosts):
    if term in groups:
        return set(groups[term])
    if term in all_hosts:
        return {term}
    out = set()
    if any(ch in term for ch in "*?["):
        for g in fnmatch.filter(groups, term):
            out |= set(groups[g])
        out |= set(fnmatch.filter(all_hosts, term))
    return out


def names_single_host(pattern, groups, all_hosts):
    """The host names a pattern names literally (campaigns must name groups instead)."""
    terms = [t.strip().lstrip("&!") for t in re.split(r"[:,]", pattern) if t.strip()]
    return [t for t in terms if t in all_hosts and t not in groups]


# ----------------------------------------------------------------------------------
# Artifacts
# ----------------------------------------------------------------------------------

def sha256_file(path, chunk=1 << 20):
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def check_artifacts(campaign):
    """Verify every wheelhouse and file artifact on this machine.

    A wheelhouse's manifest must match the campaign's sha256, and every file the
    manifest lists must match its own sum. Raises CampaignError; returns a list of
    ``{"component", "path", "files"}`` that passed.
    """
    errors, passed = [], []
    for i, comp in enumerate(campaign["components"]):
        art = comp["artifact"]
        path = f"components[{i}].artifact"
        if art["type"] == "package":
            continue
        target = os.path.join(art["path"], art["manifest"]) if art["type"] == "wheelhouse" else art["path"]
        if not os.path.isfile(target):
            what = "manifest" if art["type"] == "wheelhouse" else "file"
            errors.append((f"{path}.path", f"{what} {target} does not exist"))
            continue
        actual = sha256_file(target)
        if actual != art["sha256"]:
            errors.append((f"{path}.sha256", f"{target} has sha256 {actual}, the campaign expects {art['sha256']}"))
            continue
        files = 1
        if art["type"] == "wheelhouse":
            try:
                bad = _check_manifest(art["path"], target)
            except UnicodeDecodeError as exc:
                bad = f"{target} is not UTF-8 text: {exc.reason} at byte {exc.start}"
            if bad:
                errors.append((f"{path}.path", bad))
                continue
            with open(target, encoding="utf-8") as fh:
                files = sum(1 for line in fh if line.strip())
        passed.append({"component": comp["name"], "path": art["path"], "files": files})
    if errors:
        raise CampaignError(errors)
    return passed


def _check_manifest(directory, manifest):
    with open(manifest, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            parts = line.split(None, 1)
            if len(parts) != 2 or not _SHA256_RE.match(parts[0]):
                return f"{manifest} line {n} is not '<sha256>  <file>'"
            name = parts[1].strip().lstrip("*")
            full = os.path.join(directory, name)
            if os.path.isabs(name) or ".." in name.split("/"):
                return f"{manifest} line {n} names a file outside the artifact: {name}"
            if not os.path.isfile(full):
                return f"{name} is listed in {manifest} but missing"
            if sha256_file(full) != parts[0]:
                return f"{name} does not match its sha256 in {manifest}"
    return None
