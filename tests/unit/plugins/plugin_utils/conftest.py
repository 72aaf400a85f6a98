import pytest
from helpers import ROOT, load_groups


@pytest.fixture(scope="session")
def example_groups():
    return load_groups(ROOT / "inventories" / "example" / "hosts.yml")
