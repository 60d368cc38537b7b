"""Fixtures every cross-service test folder shares."""

import pytest
from support.services import Release, train_demo_release


@pytest.fixture(scope="session")
def release(tmp_path_factory: pytest.TempPathFactory) -> Release:
    """A real release, trained on the demo corpus by the CLI in a few seconds."""
    return train_demo_release(tmp_path_factory.mktemp("releases"))
