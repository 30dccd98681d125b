"""Shared fixtures: a local ephemeral Prefect with its home inside the project, no telemetry."""

from __future__ import annotations

from pathlib import Path

import pytest

from glucomag.runtime import configure_prefect

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SAMPLE_DATA = ROOT / "sample_data"
TIMEZONE = "America/New_York"



def fixtures_outside(folder: Path) -> list[Path]:
    """Every fixture file not under `folder`: an importer's detect() must claim none of them."""
    return sorted(p for p in FIXTURES.rglob("*") if p.is_file() and folder not in p.parents)


# Before Prefect is imported anywhere in the test session.
configure_prefect(ROOT / ".pytest-prefect")


@pytest.fixture(scope="session")
def prefect_harness():
    """A real (temporary, local) Prefect API for flow runs, started once per session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def settings(tmp_path: Path):
    from glucomag.settings import load_settings

    home = tmp_path / "home"
    settings = load_settings(home, timezone=TIMEZONE, subject_id="me")
    settings.create_folders()
    return settings


@pytest.fixture
def con(settings):
    from transforms.warehouse import connect

    connection = connect(settings.warehouse)
    yield connection
    connection.close()
