"""Gunicorn entry point for Keystone.

oslo.config reads sys.argv when Keystone loads its configuration, so gunicorn's own
command line would be parsed as Keystone's: clear it before Keystone is imported.
"""
import sys

sys.argv = sys.argv[:1]

from keystone.wsgi.api import application  # noqa: E402

__all__ = ["application"]
