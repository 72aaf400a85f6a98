# Copyright: OPNFV Escalator developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

import json
import os
import re

from ansible_collections.opnfv.escalator.plugins.plugin_utils._action import EscalatorAction
from ansible_collections.opnfv.escalator.plugins.module_utils._run_state import RunState, process_alive

ARGUMENT_SPEC = {
    "path": {"type": "path", "required": True},
    "run_id": {"type": "str"},
}
DONE = ("upgraded", "already done")


def _load(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def describe(root, run_id=None):
    """The answer for the state directory root (see the run_status module)."""
    state = RunState(root)
    runs = os.path.join(root, "runs")
    plans = sorted((f for f in (os.listdir(runs) if os.path.isdir(runs) else []) if f.endswith(".plan.json")),
                   key=lambda f: os.path.getmtime(os.path.join(runs, f)))
    owner = state.owner()
    holder = state.holder_process()
    running = owner is not None and (holder is None or process_alive(holder))
    if run_id is None and plans:
        # The run that holds the lock ("run <id>"), else the newest plan.
        found = re.search(r"\brun (\S+)", owner or "")
        held = found.group(1) if found else ""
        run_id = held if f"{held}.plan.json" in plans else plans[-1][:-len(".plan.json")]
    out = {"run_id": run_id, "running": running, "lock_owner": owner, "phase": None, "eta_s": None,
           "in_progress": {}, "failed": {}, "not_done": [], "drained": state.drained(), "pending": state.pending(),
           "resume": [], "lines": []}
    if run_id is None:
        out["lines"] = [f"No run was ever planned with the state in {root}."]
        return out
    plan = _load(os.path.join(runs, f"{run_id}.plan.json"))
    if plan is None:
        out["lines"] = [f"No plan of run {run_id} in {runs}: run_id names no run kept here."]
        return out
    status = _load(os.path.join(runs, f"{run_id}.status.json")) or {}
    report = _load(os.path.join(runs, f"{run_id}.report.json")) or {}
    results = {k: v.get("result") for k, v in (report.get("nodes") or {}).items()}
    steps = {}
    for name, node in (status.get("nodes") or {}).items():
        results.setdefault(name, node.get("result"))
        if node.get("step") and node.get("step") != "done" and not node.get("result"):
            steps[name] = node["step"]
    pairs = [h["name"] for h in plan.get("run_hosts", []) if h.get("host")]
    out["phase"] = status.get("phase") or ("done" if report else None)
    out["eta_s"] = status.get("eta_s") if running else None
    out["in_progress"] = steps if running else {}
    out["failed"] = {k: v for k, v in results.items() if v and v not in DONE}
    out["not_done"] = [p for p in pairs if results.get(p) not in DONE]
    campaign = (plan.get("campaign") or {}).get("name")
    lines = [f"Run {run_id} of {campaign}: " + (
        f"running ({owner}), at {out['phase'] or 'its start'}" if running else
        ("ended" + (f", stopped: {report['stopped']}" if report.get("stopped") else ", done") if report else
         "not running, and it left no report (killed?)"))]
    if out["eta_s"] is not None:
        lines.append(f"  about {int(out['eta_s']) // 60} min {int(out['eta_s']) % 60} s left (ETA from the status file)")
    lines += [f"  {k}: {v}" for k, v in steps.items()] if running else []
    lines += [f"  failed: {k}: {v}" for k, v in out["failed"].items()]
    if owner and not running:
        lines.append(f"  the lock of '{owner}' is left by a process that is gone; the next run takes it over")
    if out["drained"]:
        out["resume"].append(f"put back the nodes a run left out of service: {', '.join(out['drained'])}")
    if out["pending"]:
        out["resume"].append(f"run again the steps after the last node of: {', '.join(out['pending'])}")
    if out["not_done"]:
        shown = ", ".join(out["not_done"][:8]) + (f" and {len(out['not_done']) - 8} more" if len(out["not_done"]) > 8 else "")
        out["resume"].append(f"upgrade the {len(out['not_done'])} nodes not done: {shown}")
    if not running:
        lines.append("  upgrade.yml run again would " + ("; ".join(out["resume"]) if out["resume"]
                                                         else "find every node done and change nothing"))
    out["lines"] = lines
    return out


class ActionModule(EscalatorAction):
    """Read the state directory and say where runs stand; see the run_status module."""

    _requires_connection = False
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        dummy, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        if args["run_id"] is not None and (not args["run_id"] or "/" in args["run_id"] or args["run_id"].startswith(".")):
            return dict(result, failed=True, msg=f"run_id: {args['run_id']!r} cannot name a run (no '/', no leading '.')")
        if not os.path.isdir(args["path"]):
            return dict(result, failed=True, msg=f"path: {args['path']} is not a directory; no run was kept there")
        return dict(result, changed=False, **describe(args["path"], args["run_id"]))
