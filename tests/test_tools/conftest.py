import pytest

from .tool_helpers import make_tiny_shapes


@pytest.fixture(scope='session')
def tiny_shapes(tmp_path_factory):
    """16 train / 8 val images of 128 px, generated once per test session."""
    return make_tiny_shapes(tmp_path_factory.mktemp('shapes'))
