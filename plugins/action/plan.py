# Copyright: OPNFV Escalator developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

import json
import os

from ansible.errors import AnsibleFileNotFound
from ansible.module_utils.common.text.converters import to_native
from ansible_collections.opnfv.escalator.plugins.plugin_utils._action import EscalatorAction
from ansible_collections.opnfv.escalator.plugins.plugin_utils._campaign import (
    MAX_CAMPAIGN_BYTES,
    CampaignError,
    check_artifacts,
    load_text,
    validate,
)
from ansible_collections.opnfv.escalator.plugins.plugin_utils._options import check_options
from ansible_collections.opnfv.escalator.plugins.plugin_utils._planner import build_plan, render_table
from ansible_collections.opnfv.escalator.plugins.module_utils._run_state import write_atomic

try:
    import yaml
except ImportError:  # pragma: no cover - PyYAML ships with ansible-core
    yaml = None

ARGUMENT_SPEC = {
    "campaign": {"type": "raw", "required": True},
    "dest": {"type": "path"},
    "down_hosts": {"type": "list", "elements": "str", "default": []},
    "check_artifacts": {"type": "bool", "default": True},
    "run_id": {"type": "str"},
}


def _plain(data):
    """Ansible's tagged containers as plain Python, so the pure planner sees plain data."""
    return json.loads(json.dumps(data, default=str))


class ActionModule(EscalatorAction):
    """Plan a campaign on the controller; see the plan module for the documentation."""

    _requires_connection = False
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        task_vars = task_vars or {}
        dummy, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)

        try:
            campaign_doc, source, base_dir, source_text = self._load_campaign(args["campaign"])
        except (OSError, AnsibleFileNotFound, ValueError) as exc:
            return dict(result, failed=True, msg=f"Cannot read the campaign: {to_native(exc)}")

        groups = _plain(task_vars.get("groups", {}))
        unknown = [h for h in args["down_hosts"] if h not in (groups.get("all") or [])]
        if unknown:
            return dict(result, failed=True,
                        msg=f"down_hosts: {', '.join(unknown)} not in the inventory (give inventory host names)")
        try:
            campaign = validate(campaign_doc, base_dir=base_dir)
            option_errors = check_options(campaign, groups)
            if option_errors:
                raise CampaignError(option_errors)
            artifacts = check_artifacts(campaign) if args["check_artifacts"] else []
            plan = build_plan(campaign, groups, down_hosts=args["down_hosts"], run_id=args["run_id"])
        except CampaignError as exc:
            lines = [f"{p}: {m}" if p else m for p, m in exc.errors]
            return dict(
                result, failed=True,
                msg=f"The campaign {source} cannot be planned ({len(lines)} problem(s)):\n" + "\n".join(lines),
                errors=[{"path": p, "message": m} for p, m in exc.errors],
            )
        plan["checks"] = {
            "campaign": "valid",
            "artifacts": [f"{a['component']}: {a['files']} file(s) match their sha256" for a in artifacts],
            "targets": {c["name"]: len(c["hosts"]) for c in plan["components"]},
        }
        current = _read_previous(args["dest"])
        if current and current.get("run_id") == plan["run_id"]:
            # The same run planned again (a resume): it keeps the time it was first planned.
            plan["created_at"] = current.get("created_at", plan["created_at"])
        table = render_table(plan)
        result.update(plan=plan, table=table, table_lines=table.splitlines(), changed=False,
                      campaign_text=source_text)

        if args["dest"]:
            result["dest"] = args["dest"]
            if current != _plain(plan):
                result["changed"] = True
                if not self._task.check_mode:
                    try:
                        write_atomic(args["dest"], json.dumps(plan, indent=2, sort_keys=True) + "\n")
                    except OSError as exc:
                        return dict(result, failed=True, msg=f"Cannot write the plan to {args['dest']}: {exc}")
        return result

    def _load_campaign(self, campaign):
        """(document, where it came from, directory relative artifact paths start from, text)."""
        if isinstance(campaign, dict):
            doc = _plain(campaign)
            return doc, "given as a mapping", self._loader.get_basedir(), yaml.safe_dump(doc, sort_keys=False)
        if not isinstance(campaign, str):
            raise ValueError(f"campaign must be a file path or a mapping, got {type(campaign).__name__}")
        path = self._find_needle("files", campaign) if not os.path.isabs(campaign) else campaign
        try:
            with open(path, encoding="utf-8") as fh:
                text = fh.read(MAX_CAMPAIGN_BYTES + 1)
        except UnicodeDecodeError as exc:
            raise ValueError(f"{path} is not UTF-8 text: {exc.reason} at byte {exc.start}") from None
        try:
            doc = load_text(text)
        except ValueError as exc:
            raise ValueError(f"{path} {exc}") from None
        return doc, path, os.path.dirname(path), text


def _read_previous(dest):
    """The plan already at dest, or None when there is none or it is not a plan."""
    if not dest or not os.path.exists(dest):
        return None
    try:
        with open(dest, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
