"""Fixtures of the deployment tests (tests/deploy); helpers are in deploylib.py."""
import pytest

from deploylib import tools


@pytest.fixture(scope="session")
def tool():
    """The paths tools.sh prints (HELM, KUBECONFORM, ...); fails the test if it cannot make them."""
    try:
        return tools()
    except RuntimeError as e:
        pytest.fail(str(e))
