# Copyright: OPNFV Escalator developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations


class ModuleDocFragment:
    """Attributes shared by the collection's modules and action plugins."""

    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in check mode and return the changes it would make without making them.
  diff_mode:
    description: Returns details on what has changed (or would change) in diff mode.
  idempotent:
    description: Running it again with the same arguments changes nothing the second time.
"""

    # For plugins that run on the controller and never touch a managed host.
    CONTROLLER = r"""
options: {}
attributes:
  action:
    description: Runs as an action plugin on the controller.
    support: full
  async:
    description: Does not support async.
    support: none
  platform:
    description: Runs on the controller; needs no connection to a managed host.
    support: full
    platforms: controller
"""
