# Copyright: OPNFV Escalator developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The base of the collection's action plugins: argument errors that name the option, as
module_utils._arguments gives them for the modules. Private to the opnfv.escalator
collection."""

from __future__ import annotations

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase
from ansible_collections.opnfv.escalator.plugins.module_utils._arguments import breaking_option, named_message, shape_error


class EscalatorAction(ActionBase):
    """ActionBase whose validate_argument_spec names the option in every refusal."""

    def validate_argument_spec(self, argument_spec=None, **constraints):
        try:
            checked = super().validate_argument_spec(argument_spec=argument_spec, **constraints)
        except (TypeError, ValueError, OverflowError) as exc:  # Ansible's checking broke on a value's type
            raise AnsibleActionFail(breaking_option(argument_spec, self._task.args, exc), obj=self._task.args) from None
        except AnsibleActionFail as exc:
            # Checked again only to choose the message: Ansible gives the first error's.
            errors = ArgumentSpecValidator(argument_spec, **constraints).validate(dict(self._task.args)).errors
            raise AnsibleActionFail(named_message(errors, exc.message), obj=self._task.args) from None
        wrong = shape_error(argument_spec, self._task.args)
        if wrong:
            raise AnsibleActionFail(wrong, obj=self._task.args)
        return checked
