# Copyright: OPNFV Escalator developers
# Apache License 2.0 (see LICENSE)
"""The failure_message filter: why a task failed, its failed loop items included."""

from __future__ import annotations

DOCUMENTATION = r"""
name: failure_message
author: OPNFV Escalator developers
version_added: 0.1.0
short_description: Why a task failed, with the message of each failed loop item
description:
  - Takes a task's result (usually C(ansible_failed_result) in a rescue) and returns
    why it failed, as one line.
  - A looped task's own message only says that one or more items failed; this filter
    gives each failed item's label and message instead, joined with C(; ).
  - A result that carries no message gives an empty string.
options:
  _input:
    description: The task's result.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Say why the block failed
  ansible.builtin.debug:
    msg: "{{ ansible_failed_task.name }}: {{ ansible_failed_result | opnfv.escalator.failure_message }}"
"""

RETURN = r"""
_value:
  description: The failure's message, or the label and message of each failed item.
  type: str
"""

from ansible.errors import AnsibleFilterError


def _text(value):
    return " ".join(str(value).split()) if value is not None else ""


def _item_message(result):
    message = _text(result.get("msg"))
    if not message and result.get("stderr"):
        message = _text(result.get("stderr"))[-800:]
    if not message and result.get("rc") not in (None, 0):
        message = "exited with %s" % result.get("rc")
    label = result.get("_ansible_item_label")
    if label is None:
        label = result.get("item")
    if label is None or label == "":
        return message
    label = _text(label)
    return "%s: %s" % (label, message) if message else label


def failure_message(result):
    """Return why ``result`` failed: its failed items' messages, or its own message."""
    if result is None:
        return ""
    if not isinstance(result, dict):
        raise AnsibleFilterError(
            "failure_message expects a task result (a mapping), got %s" % type(result).__name__)
    items = result.get("results")
    if isinstance(items, list):
        failed = [r for r in items
                  if isinstance(r, dict) and (r.get("failed") or r.get("unreachable"))]
        messages = [m for m in (_item_message(r) for r in failed) if m]
        if messages:
            return "; ".join(messages)
    return _text(result.get("msg"))


class FilterModule:
    """The collection's filters."""

    def filters(self):
        return {"failure_message": failure_message}
