"""A crash at any step loses nothing and leaves nothing half-done.

For each crash point (`transforms/crashpoints.py`) a real `glucomag import` or `glucomag run
nightly` process is started over a warehouse that already holds a good import, with
`GLUCOMAG_CRASH_AT` set, and dies by SIGKILL at that point — no cleanup runs, as in a power
cut or an OOM kill. Then:

- the warehouse opens, and every core table equals (content digest) either the state before
  the run or the state after a clean run — never anything in between;
- the marts rebuild and pass their GX validations;
- the file is still where the user left it or completely archived / quarantined — never
  lost, never a partial copy under the final name;
- running again without the crash gives exactly what one clean run gives (digest), and the
  file is filed exactly as after a clean run.

The crashing processes run two at a time (each one costs a few seconds of start-up).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, ROOT, TIMEZONE
from tests.digest import digest

BASE_FILES = (FIXTURES / "cronometer" / "servings_small.csv",
              FIXTURES / "dexcom" / "clarity_mgdl.csv")
FOOD = FIXTURES / "cronometer" / "servings_bad_rows.csv"  # 3 rows stored, 3 quarantined
UNREADABLE = FIXTURES / "cronometer" / "servings_no_day_column.csv"

# (crash point, scenario, the core tables after the crash: as "before" the run or as "after"
# a clean run). `name#n`: the n-th time the point is reached.
POINTS: tuple[tuple[str, str, str], ...] = (
    # `glucomag import servings_bad_rows.csv`: enrichment refresh, then the import
    ("warehouse:schema", "food", "before"),  # opening the warehouse, before its commit
    ("pipeline:enrichment_refreshed", "food", "before"),  # custom foods re-read, uncommitted
    ("ingest:read", "food", "before"),  # file read and conformed
    ("ingest:batch_id", "food", "before"),  # transaction open, batch number taken
    ("ingest:staged", "food", "before"),  # staging view built
    ("ingest:inserted", "food", "before"),  # new rows inserted
    ("enrich:scored#2", "food", "before"),  # during the import's enrichment
    ("ingest:enriched", "food", "before"),  # magnesium resolved
    ("ingest:enrichment_logged", "food", "before"),  # GX result of enrichment logged
    ("ingest:quarantined_rows", "food", "before"),  # rejected rows written
    ("ingest:validation_logged", "food", "before"),  # GX result of the staged rows logged
    ("ingest:before_commit", "food", "before"),  # batch logged, COMMIT not yet run
    ("ingest:committed", "food", "after"),  # committed, warehouse still open
    ("pipeline:imported", "food", "after"),  # warehouse closed, file not yet archived
    ("archive:copied", "food", "after"),  # archive copy written under a temporary name
    # `glucomag import` of readings the warehouse holds from another device
    ("ingest:merged", "glucose", "before"),  # merged into the stored readings
    # `glucomag import` of an unreadable file
    ("ingest:failure_logging", "unreadable", "before"),  # failure being logged
    ("ingest:failure_logged", "unreadable", "after"),  # failure committed, file not filed
    ("quarantine:reason_written", "unreadable", "after"),  # reason written, file not copied
    ("quarantine:copied", "unreadable", "after"),  # copy under a temporary name
    ("quarantine:placed", "unreadable", "after"),  # copy in place
    # `glucomag run nightly` with the file in the inbox: moved, then marts rebuilt
    ("archive:placed", "nightly", "after"),  # moved into archive/
    ("marts:cleared", "nightly", "after"),  # marts emptied in the rebuild transaction
    ("marts:inserted", "nightly", "after"),  # marts refilled, before commit
    ("marts:built", "nightly", "after"),  # marts committed, not yet validated
    ("marts:validation_logging", "nightly", "after"),  # first mart's GX result logged
    ("marts:validated", "nightly", "after"),  # all validated and committed
)
TESTED_ELSEWHERE = {"migrate:applied": "test_migrations.py"}


@dataclass(frozen=True)
class Scenario:
    source: Path            # the file the user gives
    keep_original: bool     # `import` copies, the nightly run moves from the inbox
    folder: str             # where it is filed: archive or quarantine


def glucose_file(folder: Path) -> Path:
    """Four of the stored readings again, from the receiver 40 s later (merged, not kept)."""
    path = folder / "receiver.csv"
    path.write_text(
        "Index,Timestamp (YYYY-MM-DDThh:mm:ss),Event Type,Event Subtype,Patient Info,"
        "Device Info,Source Device ID,Glucose Value (mg/dL)\n"
        "1,2026-03-01T07:05:52,EGV,,,,PL82501061,44\n2,2026-03-01T07:10:53,EGV,,,,PL82501061,52\n"
        "3,2026-03-01T07:15:52,EGV,,,,PL82501061,63\n4,2026-03-01T07:20:51,EGV,,,,PL82501061,75\n")
    return path


def settings_for(home: Path):
    from glucomag.settings import load_settings

    return load_settings(home)


def clean_run(home: Path, scenario: Scenario, nightly: Callable | None = None) -> None:
    """What the command does when nothing crashes — the same functions, in this process."""
    from transforms.pipeline import (
        import_and_file,
        inbox_files,
        rebuild_marts,
        refresh_enrichment,
    )

    if nightly is not None:
        nightly(home=str(home))
        return
    settings = settings_for(home)
    refresh_enrichment(settings)
    if scenario.keep_original:
        import_and_file(settings, scenario.source, keep_original=True)
    else:
        for path in inbox_files(settings):  # as the nightly flow does
            import_and_file(settings, path, keep_original=False)
        rebuild_marts(settings)


def core_digest(home: Path) -> dict:
    from transforms.warehouse import connect

    with connect(home / "warehouse.duckdb", lock_timeout_s=5) as con:
        return digest(con)


def filed(home: Path, folder: str) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((home / folder).iterdir())}


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict:
    """The base data folder (a good import done, marts built), the scenarios, and the
    state before and after one clean run of each."""
    from transforms.pipeline import import_and_file, rebuild_marts

    root = tmp_path_factory.mktemp("crash")
    base = root / "base"
    base.mkdir()
    (base / "config.toml").write_text(f'timezone = "{TIMEZONE}"\n')
    settings = settings_for(base)
    settings.create_folders()
    for path in BASE_FILES:
        shutil.copy2(path, settings.inbox / path.name)
        import_and_file(settings, settings.inbox / path.name, keep_original=False)
    rebuild_marts(settings)
    given = root / "given"
    given.mkdir()
    food, unreadable = (Path(shutil.copy2(path, given)) for path in (FOOD, UNREADABLE))
    scenarios = {
        "food": Scenario(food, True, "archive"),
        "glucose": Scenario(glucose_file(given), True, "archive"),
        "unreadable": Scenario(unreadable, True, "quarantine"),
        "nightly": Scenario(food, False, "archive"),
    }
    after = {}
    for name, scenario in scenarios.items():
        home = prepare(base, root / f"clean-{name}", scenario)
        clean_run(home, scenario)
        after[name] = {"digest": core_digest(home), "archive": filed(home, "archive"),
                       "quarantine": filed(home, "quarantine")}
    return {"root": root, "base": base, "before": core_digest(base), "after": after,
            "scenarios": scenarios}


def prepare(base: Path, home: Path, scenario: Scenario) -> Path:
    shutil.copytree(base, home, ignore=shutil.ignore_patterns(".prefect"))
    if not scenario.keep_original:
        shutil.copy2(scenario.source, home / "inbox" / scenario.source.name)
    return home


def crash(home: Path, point: str, scenario: Scenario, api_url: str | None
          ) -> subprocess.CompletedProcess:
    env = {**os.environ, "GLUCOMAG_CRASH_AT": point, "PREFECT_LOGGING_LEVEL": "WARNING"}
    env.pop("PREFECT_HOME", None)
    if scenario.keep_original:
        args = ["import", str(scenario.source)]
    else:
        args = ["run", "nightly"]
        env["PREFECT_API_URL"] = api_url or ""  # the test session's Prefect server
    process = subprocess.Popen([sys.executable, "-m", "glucomag", *args, "--home", str(home)],
                               cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=240)
    finally:
        # anything it started dies with it (its own process group, started here)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


@pytest.fixture(scope="module")
def crashes(request, world) -> dict[str, Future]:
    """Start every selected crash run now, two at a time; each test waits for its own."""
    wanted = [item.callspec.params["case"] for item in request.session.items
              if item.module is sys.modules[__name__] and hasattr(item, "callspec")
              and "case" in item.callspec.params]
    api_url = None
    if any(scenario == "nightly" for _, scenario, _ in wanted):
        from prefect.settings import PREFECT_API_URL

        request.getfixturevalue("prefect_harness")
        api_url = PREFECT_API_URL.value()
    pool = ThreadPoolExecutor(max_workers=2)
    request.addfinalizer(lambda: pool.shutdown(cancel_futures=True))
    futures = {}
    for point, name, _ in wanted:
        scenario = world["scenarios"][name]
        home = prepare(world["base"], world["root"] / re.sub(r"\W", "_", f"{name}-{point}"),
                       scenario)
        futures[f"{point}/{name}"] = pool.submit(
            lambda h=home, p=point, s=scenario: (h, crash(h, p, s, api_url)))
    return futures


def test_there_are_at_least_twenty_crash_points_and_all_are_tested():
    source = "\n".join(p.read_text() for p in (ROOT / "transforms").rglob("*.py"))
    literal = set(re.findall(r'crash_point\("([^"]+)"\)', source))
    placed = {f"{step}:{when}" for step in ("archive", "quarantine")
              for when in ("copied", "placed")}  # transforms/pipeline.py: _place()
    tested = {point.split("#")[0] for point, _, _ in POINTS}
    assert len(tested) >= 20
    assert literal | placed <= tested | set(TESTED_ELSEWHERE), "a crash point without a test"


def test_each_run_changes_the_warehouse(world):
    """Otherwise "as before or as after" would prove nothing."""
    assert all(after["digest"] != world["before"] for after in world["after"].values())


@pytest.mark.parametrize("case", POINTS, ids=[f"{p}/{s}" for p, s, _ in POINTS])
def test_crash_at_point_loses_nothing_and_a_rerun_finishes_cleanly(case, world, crashes,
                                                                    request):
    from transforms.marts import build_marts
    from transforms.warehouse import connect

    point, name, expected = case
    scenario: Scenario = world["scenarios"][name]
    home, result = crashes[f"{point}/{name}"].result()
    after = world["after"][name]

    # it died at the point (a point never reached would let it finish: exit 0 or 2)
    assert result.returncode == -signal.SIGKILL, (result.returncode, result.stderr[-2000:])

    # the warehouse opens, as it was before the run or as after a clean run — here, which
    # one follows from where the point is (before or after the import's commit)
    state = core_digest(home)
    wanted = world["before"] if expected == "before" else after["digest"]
    assert state == wanted, {table: (state[table], wanted[table])
                             for table in state if state[table] != wanted[table]}

    # the marts rebuild and pass validation
    with connect(home / "warehouse.duckdb", lock_timeout_s=5) as con:
        outcomes = build_marts(con)
    assert outcomes and all(o.success for o in outcomes), [o.suite for o in outcomes
                                                           if not o.success]

    # the file: where the user left it, or completely filed — never lost, never partial
    original = scenario.source.read_bytes()
    filed_now = {n: b for n, b in filed(home, scenario.folder).items()
                 if not n.startswith(".")}
    new_files = {n: b for n, b in filed_now.items() if n not in filed(world["base"],
                                                                      scenario.folder)}
    complete = any(b == original for b in new_files.values())
    assert all(b == original for n, b in new_files.items() if not n.endswith(".reason.txt"))
    if scenario.keep_original:
        assert scenario.source.read_bytes() == original
    else:
        in_inbox = home / "inbox" / scenario.source.name
        assert (in_inbox.exists() and in_inbox.read_bytes() == original) or complete

    # again, without the crash: exactly one clean run's result
    nightly = None
    if not scenario.keep_original:
        request.getfixturevalue("prefect_harness")
        from flows.nightly import nightly
    clean_run(home, scenario, nightly)
    assert core_digest(home) == after["digest"]
    assert filed(home, "archive") == after["archive"]
    assert filed(home, "quarantine") == after["quarantine"]
    if not scenario.keep_original:
        assert list((home / "inbox").iterdir()) == []
