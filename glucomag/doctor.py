"""`glucomag doctor`: one line per check, OK or FIX with what to do."""

from __future__ import annotations

import platform
import tempfile
import time
from dataclasses import dataclass
from importlib import metadata
from zoneinfo import ZoneInfo

import duckdb

from glucomag.settings import Settings

PACKAGES = ("glucomag", "prefect", "duckdb", "great-expectations", "polars", "typer")
# An inbox file older than this was missed by at least one nightly run.
STALE_INBOX_S = 36 * 3600
DOCTOR_LOCK_WAIT_S = 5.0


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""

    def line(self) -> str:
        if self.ok:
            return f"OK   {self.name}: {self.detail}"
        return f"FIX  {self.name}: {self.detail} — {self.fix}"


def check_versions() -> Check:
    found, missing = [], []
    for package in PACKAGES:
        try:
            found.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            missing.append(package)
    detail = f"Python {platform.python_version()}, " + ", ".join(found)
    if missing:
        return Check("versions", False, f"{detail}; missing: {', '.join(missing)}",
                     "reinstall: pip install -e . (from the glucomag folder)")
    return Check("versions", True, detail)


def check_data_folder(settings: Settings) -> Check:
    home = settings.home.resolve()
    try:
        with tempfile.NamedTemporaryFile(dir=home, prefix=".doctor-"):
            pass
    except OSError as error:
        return Check("data folder", False, f"{home} is not writable ({error.strerror})",
                     f"make it yours and writable: chmod u+rwx {home}, or use --home DIR")
    return Check("data folder", True, f"{home} is writable")


def check_warehouse(settings: Settings) -> tuple[Check, Check, Check]:
    """The warehouse opens (and its schema version), its reference data, its last runs."""
    from transforms.migrations import WarehouseError, WarehouseVersionError
    from transforms.pipeline import flow_run_line
    from transforms.runs import last_flow_runs
    from transforms.warehouse import connect, run

    try:
        con = connect(settings.warehouse, lock_timeout_s=DOCTOR_LOCK_WAIT_S)
    except WarehouseVersionError as error:
        fix = "upgrade glucomag (pip install -U glucomag) to open it"
        return (Check("warehouse", False, str(error), fix), *_skipped())
    except WarehouseError as error:
        fix = "wait for the other run to finish, then run glucomag doctor again"
        return (Check("warehouse", False, str(error), fix), *_skipped())
    except duckdb.Error as error:
        fix = "restore warehouse.duckdb from a backup (see README, Your data)"
        detail = f"cannot open {settings.warehouse} ({str(error).splitlines()[0]})"
        return (Check("warehouse", False, detail, fix), *_skipped())
    try:
        version = run(con, "SELECT max(version) FROM schema_version")[0][0]
        foods, aliases = run(con, "SELECT (SELECT count(*) FROM ref_foods WHERE "
                                  "magnesium_mg_per_100g IS NOT NULL), "
                                  "(SELECT count(*) FROM ref_aliases)")[0]
        runs = last_flow_runs(con, limit=20)
    finally:
        con.close()
    opened = Check("warehouse", True, f"{settings.warehouse.resolve()} opens, schema version "
                                      f"{version}")
    if foods and aliases:
        reference = Check("reference data", True,
                          f"{foods} foods with magnesium, {aliases} curated aliases")
    else:
        reference = Check("reference data", False,
                          f"{foods} reference foods with magnesium, {aliases} aliases",
                          "reinstall glucomag: its data files (transforms/magnesium/data) "
                          "are missing")
    return opened, reference, _last_runs(runs, flow_run_line)


def _skipped() -> tuple[Check, Check]:
    return (Check("reference data", False, "not checked", "fix the warehouse first"),
            Check("last runs", False, "not checked", "fix the warehouse first"))


def _last_runs(runs: list[tuple], line) -> Check:
    if not runs:
        return Check("last runs", True, "no flow run yet (glucomag run nightly, or "
                                        "glucomag serve to run it every night)")
    latest = {}
    for row in runs:  # newest first: the first row of each flow is its last run
        latest.setdefault(row[0], row)
    lines = "; ".join(line(*row).strip() for row in latest.values())
    bad = [row for row in latest.values() if row[5] != "completed"]
    if bad:
        return Check("last runs", False, lines,
                     "see the message; glucomag status lists the imports, quarantine/ holds "
                     "files that could not be read with their .reason.txt")
    return Check("last runs", True, lines)


def check_schedules(settings: Settings) -> Check:
    from glucomag.serve import ServeError, next_runs

    try:
        runs = next_runs(settings)
    except ServeError as error:
        return Check("schedules", False, str(error),
                     "use 5 cron fields, e.g. nightly_cron = \"30 2 * * *\"")
    zone = ZoneInfo(settings.timezone)
    return Check("schedules", True, ", ".join(
        f"{flow} '{getattr(settings, key)}' next {runs[flow].astimezone(zone):%Y-%m-%d %H:%M %Z}"
        for flow, key in (("nightly", "nightly_cron"), ("monthly_report", "monthly_cron")))
        + f" ({settings.timezone}; served by glucomag serve)")


def check_nightscout(settings: Settings) -> Check:
    """The configured Nightscout site as messages show it: never the token, the user:password
    or the query of its address. No request is made."""
    from transforms.pull.nightscout import PullError, describe_site

    if not settings.nightscout_url:
        return Check("nightscout", True, "not configured (optional: set nightscout_url to pull "
                                         "it in every nightly run)")
    token = settings.nightscout_token.get_secret_value() if settings.nightscout_token else None
    try:
        site, has_token = describe_site(settings.nightscout_url, token)
    except PullError as error:
        return Check("nightscout", False, str(error),
                     "set nightscout_url to your site's address, e.g. https://my-ns.example")
    return Check("nightscout", True, f"{site}, pulled in every nightly run "
                                     f"({'with a token' if has_token else 'no token set'})")


def check_inbox(settings: Settings, now: float | None = None) -> Check:
    from transforms.pipeline import inbox_files

    files = inbox_files(settings)
    if not files:
        return Check("inbox", True, "empty")
    oldest = min(path.stat().st_mtime for path in files)
    waiting_h = ((now or time.time()) - oldest) / 3600
    detail = f"{len(files)} file(s) waiting, the oldest for {waiting_h:.0f} h"
    if waiting_h * 3600 > STALE_INBOX_S:
        return Check("inbox", False, detail, "no nightly run picked them up: run glucomag run "
                                             "nightly, and check that glucomag serve (or your "
                                             "cron job) is running")
    return Check("inbox", True, detail + " for the next nightly run")


def run_checks(settings: Settings) -> list[Check]:
    folder = check_data_folder(settings)
    if not folder.ok:
        return [check_versions(), folder]
    opened, reference, runs = check_warehouse(settings)
    return [check_versions(), folder, opened, reference, check_schedules(settings),
            check_nightscout(settings), runs, check_inbox(settings)]
