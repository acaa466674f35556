"""pytest fixtures: `simulator_process` (session), `simulator` (reset per test), `simulator_settings`.

Load with `pytest_plugins = ["simulator.pytest_plugin"]`. Set SIMULATOR_URL to use a running simulator.
Importing this module does not import Django.
"""

import os

import pytest

from .testing import SimulatorClient, SimulatorProcess


class _RunningSimulator:
    def __init__(self, url):
        self.url = url.rstrip("/")


@pytest.fixture(scope="session")
def simulator_process():
    """The simulator for the whole session: SIMULATOR_URL if set, else a child process on a free port."""
    url = os.environ.get("SIMULATOR_URL")
    if url:
        yield _RunningSimulator(url)
        return
    process = SimulatorProcess().start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def simulator(simulator_process):
    """A SimulatorClient on a freshly reset simulator (seeded world only)."""
    client = SimulatorClient(simulator_process.url)
    client.reset()
    return client


@pytest.fixture
def simulator_settings(simulator, request):
    """Django settings (pytest-django's `settings`) pointed at the simulator; returns that settings object."""
    settings = request.getfixturevalue("settings")
    for name, value in simulator.settings().items():
        setattr(settings, name, value)
    return settings
