# Copyright: OPNFV Escalator developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""File helpers shared by the collection's modules. Private to opnfv.escalator."""

from __future__ import annotations

import hashlib


def sha256_of(path, chunk=1 << 20):
    """The sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()
