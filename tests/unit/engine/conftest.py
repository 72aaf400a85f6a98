import pathlib
import sys

import pytest

HERE = pathlib.Path(__file__).parent
sys.path.insert(0, str(HERE))


def pytest_configure(config):
    config.addinivalue_line("markers", "shared_upgrade: a test of the twelve-component cloud upgraded once for the "
                                       "module (the upgraded fixture); make test runs them beside the integration "
                                       "tests, the rest of the unit tests beside the molecule scenarios")


def pytest_collection_modifyitems(items):
    """Every test that uses the module's upgraded cloud carries shared_upgrade, so the two
    selections make test runs (-m shared_upgrade, -m "not shared_upgrade") never split a
    test from the fixture it shares, and leave none out."""
    for item in items:
        if HERE in item.path.parents and "upgraded" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.shared_upgrade)
