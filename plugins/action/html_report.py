# Copyright: OPNFV Escalator developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

import json
import os

from ansible_collections.opnfv.escalator.plugins.plugin_utils._action import EscalatorAction
from ansible_collections.opnfv.escalator.plugins.module_utils._run_state import write_atomic
from ansible_collections.opnfv.escalator.plugins.plugin_utils import _html_report
from ansible_collections.opnfv.escalator.plugins.plugin_utils._planner import render_table

ARGUMENT_SPEC = {
    "path": {"type": "path", "required": True},
    "run_id": {"type": "str", "required": True},
    "name": {"type": "str", "default": "report"},
    "probe_records": {"type": "list", "elements": "path", "default": []},
    "dest": {"type": "path"},
}


class ActionModule(EscalatorAction):
    """Write a run's report as one self-contained HTML page; see the html_report module."""

    _requires_connection = False
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        dummy, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        run_id, runs = args["run_id"], args["path"]
        if not run_id or "/" in run_id or run_id.startswith("."):
            return dict(result, failed=True, msg=f"run_id: {run_id!r} cannot name a run (no '/', no leading '.')")
        try:
            with open(os.path.join(runs, f"{run_id}.plan.json"), encoding="utf-8") as handle:
                plan = json.load(handle)
        except (OSError, ValueError) as exc:
            return dict(result, failed=True, msg=f"path, run_id: no readable plan of run {run_id} in {runs}: {exc}")
        report = {}
        try:
            with open(os.path.join(runs, f"{run_id}.{args['name']}.json"), encoding="utf-8") as handle:
                report = json.load(handle)
        except (OSError, ValueError):
            pass
        audit_file = os.path.join(runs, f"{run_id}.audit.jsonl")
        audit = _html_report.read_jsonl(audit_file) if os.path.exists(audit_file) else []
        warnings, records = [], []
        for path in args["probe_records"]:
            try:
                records += [r for r in _html_report.read_jsonl(path)
                            if isinstance(r, dict) and isinstance(r.get("at"), (int, float))]
            except (OSError, UnicodeDecodeError) as exc:
                warnings.append(f"probe_records: {path} cannot be read: {exc}")
        if _html_report.pyplot is None:
            warnings.append(_html_report.MATPLOTLIB_MISSING)
        try:
            plan_text = render_table(plan)
        except (KeyError, TypeError, ValueError):
            plan_text = json.dumps(plan.get("components", []), indent=1)[:20000]
        page = _html_report.render(plan, report, audit, records, plan_text)
        dest = args["dest"] or os.path.join(runs, f"{run_id}.{args['name']}.html")
        if not self._task.check_mode:
            try:
                write_atomic(dest, page)
            except OSError as exc:
                return dict(result, failed=True, msg=f"dest: {dest} cannot be written: {exc}")
        if warnings:
            result["warnings"] = warnings
        return dict(result, changed=not self._task.check_mode, dest=dest, audit_events=len(audit),
                    probe_requests=len(records))
