"""Gunicorn entry point for an OpenStack API: ``LAB_WSGI_APP=module:attribute``.

oslo.config reads sys.argv when a service loads its configuration, so gunicorn's own
command line would be parsed as the service's: clear it before the service is imported.

With ``LAB_WSGI_CONFIGURE_MAPPERS=1`` SQLAlchemy's mappers are configured once the app is
loaded: Neutron's port listing reads a backref (``Port.port_forwardings``) that exists
only after they are, and fails with AttributeError when a port listing is a process's
first database query, which is what Nova's first request usually is.
"""
import importlib
import os
import sys

sys.argv = sys.argv[:1]

_module, _attribute = os.environ["LAB_WSGI_APP"].split(":")
application = getattr(importlib.import_module(_module), _attribute)

if os.environ.get("LAB_WSGI_CONFIGURE_MAPPERS") == "1":
    from sqlalchemy import orm

    orm.configure_mappers()

__all__ = ["application"]
