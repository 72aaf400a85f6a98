# Copyright: OPNFV Escalator developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Argument errors that name the option, for the collection's modules and action plugins.
Private to the opnfv.escalator collection.

Two things Ansible's argument checking leaves unclear, closed here for every module:
- a mapping option given something that is not a mapping first fails the no_log scan of
  its suboptions, whose message ("dictionary requested, could not parse JSON or
  key=value") names no option; the errors after it do, and the first of those is given;
- a text or path option given a list or a mapping is turned into the text of that list
  ("['a']" as a path); it is refused instead, naming the option;
- a mapping option with suboptions given a number or a boolean, or a float option given
  an integer too big for a float, breaks Ansible's own checking with a Python exception
  (TypeError, OverflowError); it is refused, naming the option;
- a path option given a number or a boolean is refused too: Ansible would take its text as
  the path; so is a path holding a NUL character, which the system calls refuse with a
  Python exception.
"""

from __future__ import annotations

import sys

from ansible.module_utils.basic import AnsibleModule, _load_params
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.errors import NoLogError

TEXT_TYPES = ("str", "path")


def named_message(errors, first):
    """The message to give for a failed validation: `first` (Ansible's), unless it is a
    no_log scan's message that names no option and a later error names one."""
    if errors and isinstance(errors[0], NoLogError) and first == errors.msg:
        for error in errors:
            if not isinstance(error, NoLogError):
                return str(error)
    return first


def _kind(value):
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return "a list" if isinstance(value, list) else "a mapping"


def _expected(kind):
    return "a path" if kind == "path" else "text"


def shape_error(spec, params, prefix=""):
    """The first option given a value of the wrong shape, as 'option: ... is expected, got a
    list', or None: text or a path (or a list of them) given a list or a mapping, a mapping
    with suboptions given a list, a number or a boolean. Suboptions are walked too."""
    for name, option in spec.items():
        value = params.get(name) if isinstance(params, dict) else None
        if value is None:
            continue
        where = prefix + name
        kind = option.get("type", "str")
        if kind in TEXT_TYPES and isinstance(value, (list, dict)) or kind == "path" and not isinstance(value, str):
            return f"{where}: {_expected(kind)} is expected, got {_kind(value)}"
        if kind == "path" and "\0" in value:
            return f"{where}: a path cannot hold a NUL character"
        if kind == "float" and isinstance(value, int) and not isinstance(value, bool) and abs(value) > sys.float_info.max:
            return f"{where}: a number is expected, got an integer of about {int(value.bit_length() * 0.30103)} digits"
        if kind == "list" and option.get("elements") in TEXT_TYPES and isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, (list, dict)):
                    return f"{where}[{index}]: {_expected(option['elements'])} is expected, got {_kind(item)}"
                if option["elements"] == "path" and isinstance(item, str) and "\0" in item:
                    return f"{where}[{index}]: a path cannot hold a NUL character"
        sub = option.get("options")
        if sub and kind == "dict" and not isinstance(value, (dict, str)):
            return f"{where}: a mapping is expected, got {_kind(value)}"
        if sub and kind == "dict" and isinstance(value, dict):
            found = shape_error(sub, value, where + ".")
            if found:
                return found
        if sub and kind == "list" and isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, dict):
                    found = shape_error(sub, item, f"{where}[{index}].")
                    if found:
                        return found
    return None


def breaking_option(spec, params, error):
    """Why Ansible's checking raised `error`: the option whose value it could not read,
    found by checking each option alone (or the shape rules above first)."""
    found = shape_error(spec, params)
    if found:
        return found
    for name, option in spec.items():
        if not isinstance(params, dict) or params.get(name) is None:
            continue
        try:
            ArgumentSpecValidator({name: option}).validate({name: params[name]})
        except (TypeError, ValueError, OverflowError) as exc:
            return f"{name}: not a valid {option.get('type', 'str')}: {exc}"
    return f"Invalid arguments: {error}"


class Module(AnsibleModule):
    """AnsibleModule whose argument errors name the option (see the module's docstring)."""

    def __init__(self, argument_spec, **kwargs):
        raw = _load_params()  # as given, before Ansible converts them (AnsibleModule reads its own copy)
        self._escalator_validating = True
        try:
            super().__init__(argument_spec, **kwargs)
        except (TypeError, ValueError, OverflowError) as exc:  # Ansible's checking broke on a value's type
            self._escalator_validating = False
            self.fail_json(msg=breaking_option(argument_spec, raw, exc))
        self._escalator_validating = False
        wrong = shape_error(argument_spec, raw)
        if wrong:
            self.fail_json(msg=wrong)

    def fail_json(self, msg, **kwargs):
        result = getattr(self, "validation_result", None)
        if getattr(self, "_escalator_validating", False) and result is not None:
            msg = named_message(result.errors, msg)
        super().fail_json(msg=msg, **kwargs)
