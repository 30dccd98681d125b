"""Settings: data folder, time zone and subject, from arguments, environment, then config file.

Precedence: explicit arguments > `GLUCOMAG_*` environment > `<home>/config.toml` > defaults.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from tzlocal import get_localzone_name

from schemas.canonical import CLOCK_SKEW_SECONDS, GLUCOSE_SOURCE_PRIORITY

DEFAULT_HOME = Path("glucomag-data")


def system_timezone() -> str:
    return get_localzone_name() or "UTC"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GLUCOMAG_", extra="forbid")

    home: Path = DEFAULT_HOME
    timezone: str = Field(default_factory=system_timezone)
    subject_id: str = "me"
    # Profile for the reference intake (magnesium.md); without age and sex both adult
    # figures are shown.
    age: int | None = Field(default=None, ge=1, le=120)
    sex: Literal["male", "female"] | None = None
    life_stage: Literal["pregnancy", "lactation"] | None = None
    # The same glucose reading from two sources: the earlier source here is kept; readings
    # within this many seconds (and 1 mg/dL) of each other are the same reading.
    source_priority: tuple[str, ...] = GLUCOSE_SOURCE_PRIORITY
    clock_skew_seconds: int = Field(default=CLOCK_SKEW_SECONDS, ge=0, le=3600)
    # `glucomag serve` schedules, cron in `timezone`: the nightly run, and last month's
    # report after the nightly run of the 1st has had hours to finish.
    nightly_cron: str = "30 2 * * *"
    monthly_cron: str = "0 6 1 * *"
    # An inbox file is imported once its size and modification time have not changed for
    # this long (an export still being downloaded or copied is waited for) — at most
    # `inbox_settle_timeout_seconds`, then the step fails as transient and is retried.
    inbox_settle_seconds: float = Field(default=2.0, ge=0, le=3600)
    inbox_settle_timeout_seconds: float = Field(default=300.0, ge=0, le=86_400)
    # Transient failures (warehouse busy, file still being written, file system errors) are
    # retried this many times, waiting backoff × 1, 2, 4… seconds.
    task_retries: int = Field(default=3, ge=0, le=10)
    retry_backoff_seconds: float = Field(default=10.0, ge=0, le=3600)
    # With a URL, every nightly run first pulls new Nightscout entries into the inbox. The
    # token is a SecretStr so that no repr, log or error message can show it.
    nightscout_url: str | None = None
    nightscout_token: SecretStr | None = None

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone '{value}' (use an IANA name such as "
                             "'Europe/Berlin')") from None
        return value

    @field_validator("nightly_cron", "monthly_cron")
    @classmethod
    def _five_field_cron(cls, value: str) -> str:
        # The shape only: Prefect (imported later, after its home is set) checks the rest
        # when `glucomag serve` or `doctor` builds the schedule.
        if not re.fullmatch(r"\s*([0-9A-Za-z*,/\-]+\s+){4}[0-9A-Za-z*,/\-]+\s*", value):
            raise ValueError(f"'{value}' is not a cron schedule of 5 fields "
                             "(minute hour day month weekday, e.g. '30 2 * * *')")
        return value

    @property
    def warehouse(self) -> Path:
        return self.home / "warehouse.duckdb"

    @property
    def inbox(self) -> Path:
        return self.home / "inbox"

    @property
    def archive(self) -> Path:
        return self.home / "archive"

    @property
    def quarantine(self) -> Path:
        return self.home / "quarantine"

    @property
    def reports(self) -> Path:
        return self.home / "reports"

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    @property
    def prefect_home(self) -> Path:
        return self.home / ".prefect"

    def create_folders(self) -> None:
        """Create the data folder and its subfolders readable by the user only (0700, whatever
        the umask): they hold health data. Folders that already exist keep their mode."""
        for folder in (self.home, self.inbox, self.archive, self.quarantine, self.reports):
            if not folder.is_dir():
                folder.mkdir(parents=True, exist_ok=True)
                folder.chmod(0o700)


def load_settings(home: Path | None = None, **explicit: object) -> Settings:
    """Settings for `home` (or GLUCOMAG_HOME, or ./glucomag-data) with its config.toml applied."""
    from_env = Settings()
    chosen_home = home if home is not None else from_env.home
    config_file = chosen_home / "config.toml"
    file_values = tomllib.loads(config_file.read_text()) if config_file.exists() else {}
    env_values = from_env.model_dump(include=from_env.model_fields_set)
    given = {key: value for key, value in explicit.items() if value is not None}
    return Settings(**{**file_values, **env_values, **given, "home": chosen_home})
