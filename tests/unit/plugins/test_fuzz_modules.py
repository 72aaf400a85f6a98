"""Every option of every module, mistyped (hypothesis): the module answers with a message
that names the option, or does its work; never a Python exception, and when it refuses,
nothing under its directories changed and no lock is left.

The options come from each module's own documentation, suboptions included, so an option
added later is fuzzed without touching this file. Each module runs in this process, as
Ansible runs it: an action plugin through ActionBase (its argument spec checked by
validate_argument_spec), a module through AnsibleModule with patched arguments.

What a module is given stays on this machine and harmless: paths are relative to a deep
working directory in the test's own directory (so `../../x` stays inside it), URLs and
ports are loopback ones nothing listens on, a shell command is fuzzed only with values that
are not text, and a number that would make a module legitimately wait (a timeout of 50 s)
is not drawn: mistyped values are what is fuzzed, not patience.
"""

import contextlib
import hashlib
import importlib
import io
import json
import math
import os
import pathlib
import re
import socket
import types

import pytest
import yaml
from ansible.errors import AnsibleError
from ansible.module_utils.testing import patch_module_args
from ansible.parsing.dataloader import DataLoader
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

PACKAGE = "ansible_collections.opnfv.escalator.plugins"
ROOT = pathlib.Path(__file__).resolve().parents[3]
SECRET = "whsec_" + __import__("base64").b64encode(b"fuzzed modules' webhook secret!!").decode()
SETTINGS = settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "60")), deadline=None, derandomize=True,
                    phases=[Phase.explicit, Phase.generate],
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def closed_port():
    """A loopback port nothing listens on (bound and released: refused when called)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


DEAD = closed_port()

# A valid call of each module, in the case's directory (relative paths). Fuzzing replaces
# one to three options (or suboptions of the first list element) of it.
BASES = {
    "add_pair": {"name": "keystone@h01", "host": "h01", "groups": ["escalator_pairs"], "vars": {"a": 1}},
    "coordinate": {"session_id": "run-1-keystone-h01", "state": "MAINTENANCE", "event": "project",
                   "projects": [{"project_id": "p1", "url": f"http://127.0.0.1:{DEAD}/maintenance",
                                 "secret": SECRET, "instances": ["i-1"]}],
                   "host": "h01", "reply_timeout": 0.5, "send_timeout": 0.3, "policy": "skip_host",
                   "bind": "127.0.0.1", "port": DEAD, "replay_file": "state/replay.json", "metadata": {"to": "2"}},
    "health_check": {"checks": [{"name": "true", "type": "command", "command": "true"}],
                     "retries": 0, "delay": 0.1, "timeout": 2, "stable": 0},
    "html_report": {"path": "state", "run_id": "20260101T000000Z-00000000", "name": "report",
                    "probe_records": [], "dest": "out/report.html"},
    "keystone_auth": {"auth_url": f"http://127.0.0.1:{DEAD}/v3", "username": "admin", "password": "pw",
                      "user_domain": "Default", "project": "admin", "project_domain": "Default", "role": "admin",
                      "timeout": 0.5},
    "maintenance_mode": {"node": "h01", "state": "enabled", "backend": "command", "timeout": 1,
                         "command": {}},
    "notify": {"webhooks": [{"url": f"http://127.0.0.1:{DEAD}/hook", "secret": SECRET, "name": "ops",
                             "timeout": 0.3}],
               "event": "run_started", "run_id": "20260101T000000Z-00000000", "campaign": "c", "message": "m",
               "max_seconds": 0.5, "retries": 0},
    "plan": {"campaign": "campaign.yml", "dest": "state/plan.json", "down_hosts": [], "check_artifacts": False},
    "run_state": {"path": "state", "lock": "taken", "owner": "fuzz"},
    "run_status": {"path": "state", "run_id": "20260101T000000Z-00000000"},
    "snapshot": {"name": "s1", "root": "snaps", "paths": ["data"], "run_id": "r1",
                 "min_free_margin": 0, "min_free_margin_percent": 0},
    "snapshot_info": {"root": "snaps", "name": "s1"},
    "wait_for_notification": {"secret": SECRET, "bind": "127.0.0.1", "port": DEAD, "path": "/", "timeout": 0.3,
                              "on_timeout": "continue", "replay_file": "state/seen.json"},
}
# The command backend's commands are set per case (they write under the case's directory).
COMMANDS = {"enter": "touch out-of-service", "exit": "rm -f out-of-service", "status": "test -e out-of-service"}
CAMPAIGN = {
    "name": "fuzz", "components": [{
        "name": "keystone", "targets": "ctl", "version": "29.1.0",
        "artifact": {"type": "wheelhouse", "path": "/srv/wh", "sha256": "0" * 64}, "expected_duration": 60,
        "maintenance": {"backend": "command", "settings": COMMANDS},
        "upgrade": {"method": "wheelhouse", "venv_root": "/opt/keystone", "current_link": "/opt/keystone/current"},
        "verify": [{"name": "up", "type": "tcp", "host": "127.0.0.1", "port": DEAD}]}],
}
TASK_VARS = {"groups": {"all": ["h01", "h02"], "ctl": ["h01", "h02"], "ungrouped": []},
             "hostvars": {"h01": {}, "h02": {}}, "inventory_hostname": "h01"}
# Options whose text is run by a shell, by design (the operator's own commands): fuzzed
# with values that are not text only.
COMMAND_OPTIONS = {"maintenance_mode": {"command.enter", "command.exit", "command.status", "command.empty",
                                        "command.serving"},
                   "snapshot": {"commands.dump", "commands.restore"}}
# Options that, left out, default to a path outside the case's directory: never None.
DEFAULTS_OUTSIDE = {("snapshot", "root"), ("snapshot_info", "root"), ("maintenance_mode", "haproxy.socket")}


def documented_options(name):
    """Each option's path (suboptions as parent.child) and its documented type."""
    source = (ROOT / "plugins" / "modules" / f"{name}.py").read_text()
    doc = yaml.safe_load(re.search(r'DOCUMENTATION = r?"""(.*?)"""', source, re.S).group(1))
    found = {}

    def walk(options, prefix):
        for key, spec in (options or {}).items():
            found[prefix + key] = spec.get("type", "str")
            walk(spec.get("suboptions"), f"{prefix}{key}.")
    walk(doc["options"], "")
    return found


OPTIONS = {name: documented_options(name) for name in BASES}

# Values a hurried operator types, text and numbers and containers alike.
texts = st.one_of(st.text(max_size=30), st.sampled_from([
    "", " ", "../../x", "; rm -rf x", "$(id)", "`id`", "{{ lookup('env','HOME') }}", "${UNDEFINED_VAR}",
    "29.10", "010", "100%", "-1", "1e999", "nan", "inf", "\x00", "é" * 300, "\u202e", "a" * 5000, "yes"]))
numbers = st.one_of(st.integers(), st.integers(min_value=10 ** 20, max_value=10 ** 4000),
                    st.floats(allow_nan=True, allow_infinity=True))
scalars = st.one_of(st.none(), st.booleans(), numbers, texts)
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                      max_leaves=8)


def waits(value):
    """Whether a value would be read as a duration that makes a module wait."""
    try:
        number = float(value) if not isinstance(value, bool) else None
    except (TypeError, ValueError, OverflowError):
        return False
    return number is not None and math.isfinite(number) and 0.6 < number <= 10 ** 6


def acceptable(name, option, value):
    if value is None and (name, option) in DEFAULTS_OUTSIDE:
        return False
    if option in COMMAND_OPTIONS.get(name, ()) and isinstance(value, str):
        return False
    if isinstance(value, str) and value.startswith("/"):
        return False  # an absolute path is the operator's choice, and outside the case
    # Durations, counts and ports that are plain valid numbers only make the module wait.
    return not (OPTIONS[name][option] in ("int", "float") and waits(value))


def put(args, option, value):
    """Set an option (parent.child: in the parent mapping, or in its list's first element)."""
    *parents, last = option.split(".")
    node = args
    for part in parents:
        child = node.get(part)
        if isinstance(child, list):
            if not child or not isinstance(child[0], dict):
                return False
            child = child[0]
        elif not isinstance(child, dict):
            return False
        node = child
    node[last] = value
    return True


def tree(directory):
    """Every file under a directory with a digest of its content (locks included)."""
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(directory.rglob("*")) if not p.is_symlink()}


def run_module(name, args, check=False):
    """A module's main() as Ansible runs it on a target: its JSON answer."""
    module = importlib.import_module(f"{PACKAGE}.modules.{name}")
    out = io.StringIO()
    with patch_module_args(dict(args, _ansible_check_mode=check)), contextlib.redirect_stdout(out):
        try:
            module.main()
        except SystemExit:
            pass
    return json.loads(out.getvalue())


def run_action(name, args, check=False):
    """An action plugin's run() as Ansible's task executor calls it: its result, or the
    message Ansible prints for the error it raised."""
    plugin = importlib.import_module(f"{PACKAGE}.action.{name}")
    task = types.SimpleNamespace(args=args, async_val=0, check_mode=check, diff=False, action=f"opnfv.escalator.{name}",
                                 delegate_to=None, no_log=False, environment=[], become=False,
                                 get_search_path=lambda: [os.getcwd()])
    connection = types.SimpleNamespace(_shell=types.SimpleNamespace(tmpdir="unused"))
    action = plugin.ActionModule(task, connection, types.SimpleNamespace(check_mode=check), DataLoader(), None)
    action._load_name = f"opnfv.escalator.{name}"
    # A module the action runs on its host (run_state's host_path) runs here too.
    action._execute_module = lambda module_name, module_args, task_vars=None, **kw: run_module(
        module_name.rsplit(".", 1)[-1], module_args, check)
    try:
        return action.run(task_vars=dict(TASK_VARS))
    except AnsibleError as exc:
        return {"failed": True, "msg": exc.message}


def run(name, args):
    if (ROOT / "plugins" / "action" / f"{name}.py").exists():
        return run_action(name, args)
    return run_module(name, args)


@pytest.fixture
def case(tmp_path_factory):
    """A fresh directory per case, entered six levels deep, with what the bases name."""
    def make():
        base = tmp_path_factory.mktemp("case")
        cwd = base / "a" / "b" / "c" / "d" / "e" / "f"
        (cwd / "data").mkdir(parents=True)
        (cwd / "data" / "a.conf").write_text("a = 1\n")
        (cwd / "state").mkdir()
        (cwd / "out").mkdir()
        (cwd / "campaign.yml").write_text(yaml.safe_dump(CAMPAIGN))
        return base, cwd
    return make


@contextlib.contextmanager
def inside(directory):
    before = os.getcwd()
    os.chdir(directory)
    try:
        yield
    finally:
        os.chdir(before)


def base_of(name, cwd):
    args = json.loads(json.dumps(BASES[name]))
    if name == "maintenance_mode":
        args["command"] = {k: f"cd {cwd} && {v}" for k, v in COMMANDS.items()}
    if name == "snapshot":
        args["paths"] = [str(cwd / "data")]  # absolute, as the module wants
    return args


@pytest.mark.parametrize("name", sorted(BASES))
def test_each_base_is_a_valid_call(name, case):
    """The fuzzing starts from calls that are valid: a refusal below is the fuzzed value's."""
    base, cwd = case()
    with inside(cwd):
        result = run(name, base_of(name, cwd))
    # Calls that reach a loopback port nobody listens on fail for that, and say so; a
    # notification not delivered is a warning, not a failure.
    if name == "coordinate":
        assert result["decision"] == "skip_host" and "was not delivered" in result["msg"], result
    elif name == "keystone_auth":
        assert result.get("failed") and "refused" in result["msg"], result
    elif name == "notify":
        assert not result.get("failed") and "was not delivered" in result["warnings"][0], result
    elif name == "html_report":
        # No run has been kept there yet: the message says which.
        assert result.get("failed") and "20260101T000000Z-00000000" in result["msg"], result
    else:
        assert not result.get("failed"), result


@pytest.mark.parametrize("name", sorted(BASES))
def test_every_documented_option_mistyped_is_named_or_done_and_nothing_changed_on_refusal(name, case):
    options = sorted(OPTIONS[name])

    @SETTINGS
    @given(st.lists(st.tuples(st.sampled_from(options), values), min_size=1, max_size=3))
    def mistyped(changes):
        base, cwd = case()
        args = base_of(name, cwd)
        changed = []
        for option, value in changes:
            if acceptable(name, option, value) and put(args, option, value):
                changed.append(option)
        if not changed:
            return
        before = tree(base)
        with inside(cwd):
            result = run(name, args)  # an exception here is the failure this test looks for
        assert isinstance(result, dict)
        if not result.get("failed"):
            return
        msg = str(result.get("msg", ""))
        assert msg and "Traceback" not in msg and "module_stderr" not in result, (changes, result)
        assert len(msg) < 20000, (changes, len(msg))
        words = {part for option in changed for part in option.split(".")}
        named = any(re.search(rf"(?<![A-Za-z_]){re.escape(w)}(?![A-Za-z_])", msg, re.I) for w in words)
        # A call whose options were all accepted may still fail for what it met (a refused
        # connection, a missing run): those messages name it, not an option.
        # The plan's refusals name the campaign's own fields (components[0]...).
        met = re.search(r"refused|not answer|did not answer|unreachable|was not delivered|no run|not found|"
                        r"timed out|No such file|cannot be reached|Cannot read|no report|cannot be planned", msg, re.I)
        assert named or met, (changes, msg)
        after = tree(base)
        assert after == before, (changes, msg, set(after) ^ set(before))
        assert not (cwd / "state" / "lock").exists() or name != "run_state" or not result.get("failed"), changes

    mistyped()
