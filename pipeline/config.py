"""Settings: clinic.toml validated once at load, with environment overrides for secrets and
deployment values. Errors name the file, the key and its line."""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
import tomllib
from datetime import date, time
from functools import cached_property
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)

from pipeline.errors import ConfigError
from pipeline.models import Segment
from pipeline.segments.spec import load_segments
from pipeline.workspace import CONFIG_FILE, find_workspace

# Environment variable -> (section, key) it overrides.
ENV_OVERRIDES: dict[str, tuple[str, str]] = {
    "CLINICMAIL_DELIVERY_BACKEND": ("delivery", "backend"),
    "SENDGRID_API_HOST": ("delivery", "api_host"),
    "CLINICMAIL_SMTP_URL": ("delivery", "smtp_url"),
    "CLINICMAIL_RECONCILE_AFTER": ("delivery", "reconcile_after_seconds"),
    "CLINICMAIL_DELIVERY_CONCURRENCY": ("delivery", "concurrency"),
    "CLINICMAIL_DELIVERY_PROCESSES": ("delivery", "processes"),
    "CLINICMAIL_RATE_LIMIT": ("delivery", "rate_limit_per_second"),
    "CLINICMAIL_PUBLIC_URL": ("web", "public_url"),
}
ENV_WEBHOOK_KEY = "SENDGRID_WEBHOOK_PUBLIC_KEY"

_HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
_QUIET_HOURS = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _https_url(value: str) -> str:
    if not re.match(r"^https://[^\s/]+", value):
        raise ValueError("must be an absolute https:// address")
    return value.rstrip("/")


class ClinicSection(_Section):
    name: str = Field(min_length=1)
    postal_address: str = Field(min_length=5)
    timezone: str = "Europe/London"
    website: str
    booking_url: str
    logo_url: str | None = None
    brand_colour: str = "#1d6b66"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown timezone {value!r} (use an IANA name such as Europe/London)"
            ) from None
        return value

    @field_validator("website", "booking_url", "logo_url")
    @classmethod
    def _https(cls, value: str | None) -> str | None:
        return None if value is None else _https_url(value)

    @field_validator("brand_colour")
    @classmethod
    def _colour(cls, value: str) -> str:
        if not _HEX_COLOUR.match(value):
            raise ValueError("must be a colour such as #1d6b66")
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class SenderSection(_Section):
    name: str = Field(min_length=1)
    email: EmailStr
    reply_to: EmailStr | None = None
    unsubscribe_mailbox: EmailStr | None = None


DEFAULT_PORT = 8000


class WebSection(_Section):
    public_url: str = f"http://127.0.0.1:{DEFAULT_PORT}"
    # Addresses (or networks) of reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are
    # believed; empty: the client address is the socket's, whatever headers a request carries.
    trusted_proxies: tuple[str, ...] = ()

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or network") from None
        return value

    @field_validator("public_url")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("must be an absolute http:// or https:// address")
        return value.rstrip("/")


class DeliverySection(_Section):
    backend: Literal["sendgrid", "smtp", "file", "local"] = "local"
    api_host: str = "https://api.sendgrid.com"
    smtp_url: str | None = None
    concurrency: int = Field(default=4, ge=1, le=64)
    processes: int = Field(default=1, ge=1, le=32)
    rate_limit_per_second: float = Field(default=0, ge=0)
    timeout_seconds: float = Field(default=30, gt=0, le=600)
    reconcile_after_seconds: int = Field(default=3600, ge=0)
    batch_size: int = Field(default=1000, ge=1, le=1000)


class SendingSection(_Section):
    quiet_hours: str = "21:00-08:00"
    closure_dates: tuple[date, ...] = ()
    weekly_cap: int = Field(default=2, ge=0)
    grace_minutes: int = Field(default=60, ge=0)
    # How far ahead the schedule form proposes a time: long enough to read the page.
    proposal_lead_minutes: int = Field(default=10, ge=1, le=1440)

    @field_validator("quiet_hours")
    @classmethod
    def _quiet_hours(cls, value: str) -> str:
        if value == "":
            return value
        match = _QUIET_HOURS.match(value)
        if not match or int(match[1]) > 23 or int(match[3]) > 23 or int(match[2]) > 59:
            raise ValueError('must look like "21:00-08:00", or "" for none')
        return value

    @property
    def quiet_window(self) -> tuple[time, time] | None:
        """(start, end) in local time, or None when there are no quiet hours."""
        if not self.quiet_hours:
            return None
        match = _QUIET_HOURS.match(self.quiet_hours)
        assert match is not None
        return time(int(match[1]), int(match[2])), time(int(match[3]), int(match[4]))


class ReportSection(_Section):
    cron: str = "0 8 * * mon"


class AttributionSection(_Section):
    """Which campaign email a booking is credited to: the latest one the client clicked
    (`last_click`) or opened themselves (`last_open`; machine opens never count) within
    `window_days` before the booking was made."""

    window_days: int = Field(default=7, ge=1, le=90)
    model: Literal["last_click", "last_open"] = "last_click"


class FeedsSection(_Section):
    urls: tuple[str, ...] = ()
    poll_minutes: int = Field(default=60, ge=5)
    # Fetching from loopback, private and link-local addresses is refused unless this is set.
    allow_private: bool = False


# Files of the local SendGrid-compatible server in local_sendgrid_dir: its public webhook key,
# and its URL while it runs.
LOCAL_PUBLIC_KEY_FILE = "webhook_public_key"
LOCAL_SERVER_FILE = "server.json"
# The port the local server listens on unless told otherwise.
LOCAL_SERVER_PORT = 3025
# The app's route for SendGrid's Event Webhook, where the local server posts its events too.
WEBHOOK_PATH = "/webhooks/sendgrid"


class Settings(BaseModel):
    """Everything clinicmail is configured with. Secrets are SecretStr, hidden in repr."""

    model_config = ConfigDict(frozen=True)

    workspace: Path
    clinic: ClinicSection
    sender: SenderSection
    web: WebSection = WebSection()
    delivery: DeliverySection = DeliverySection()
    sending: SendingSection = SendingSection()
    report: ReportSection = ReportSection()
    feeds: FeedsSection = FeedsSection()
    attribution: AttributionSection = AttributionSection()
    database_url: str
    secret_key: SecretStr
    sendgrid_api_key: SecretStr | None = None
    webhook_public_key: str | None = None

    @property
    def var_dir(self) -> Path:
        return self.workspace / "var"

    @cached_property
    def segments(self) -> tuple[Segment, ...]:
        """The segments of campaigns/segments.yaml, read once for these settings and passed down
        from here (highest priority first, `general` last). Raises SpecError naming the file and
        line of the first problem."""
        return tuple(load_segments(self.workspace))

    def with_segments_reread(self) -> Settings:
        """These settings, with campaigns/segments.yaml to be read again: what a long-running
        worker uses once it sees the file changed."""
        fresh = self.model_copy()
        # functools.cached_property keeps its value in the instance's __dict__.
        fresh.__dict__.pop("segments", None)
        return fresh

    @property
    def local_sendgrid_dir(self) -> Path:
        """Where the local SendGrid-compatible server (pipeline.devserver) keeps the mail it
        accepted, its webhook signing key and the address it listens on."""
        return self.var_dir / "local-sendgrid"

    def webhook_verification_key(self) -> str | None:
        """The key that verifies Event Webhook posts: SENDGRID_WEBHOOK_PUBLIC_KEY when set; with
        the local backend, the local server's own public key. That file is read on each call,
        because the server writes it when it first starts, which may be after these settings
        were loaded."""
        if self.webhook_public_key:
            return self.webhook_public_key
        path = self.local_sendgrid_dir / LOCAL_PUBLIC_KEY_FILE
        if self.delivery.backend == "local" and path.is_file():
            return path.read_text(encoding="ascii").strip() or None
        return None

    @property
    def local_server_file(self) -> Path:
        """The file in which a running local SendGrid-compatible server announces its URL."""
        return self.local_sendgrid_dir / LOCAL_SERVER_FILE

    def path(self, *parts: str) -> Path:
        return self.workspace.joinpath(*parts)

    def listening_on(self, host: str, port: int) -> Settings:
        """These settings for an app listening on `host`:`port`: unless `[web] public_url` (or
        CLINICMAIL_PUBLIC_URL) was given, links in emails and printed addresses follow the
        port, so `run --port 8101` never sends people to port 8000."""
        if "public_url" in self.web.model_fields_set:
            return self
        reachable = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        web = self.web.model_copy(update={"public_url": f"http://{reachable}:{port}"})
        return self.model_copy(update={"web": web})


_FILE_SECTIONS = (
    "clinic", "sender", "web", "delivery", "sending", "report", "feeds", "attribution",
)  # fmt: skip


def load_settings(workspace: str | os.PathLike[str] | None = None) -> Settings:
    """Read clinic.toml from the workspace and apply the environment on top."""
    root = find_workspace(workspace)
    config_path = root / CONFIG_FILE
    raw = config_path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        bad_line = raw.count(b"\n", 0, error.start) + 1
        raise ConfigError(
            f"{config_path}:{bad_line}: not UTF-8 text (byte 0x{raw[error.start]:02x}); save the "
            "file as UTF-8"
        ) from None
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{config_path}: not valid TOML: {error}") from None
    unknown = sorted(set(data) - set(_FILE_SECTIONS))
    if unknown:
        raise ConfigError(
            f"{config_path}:{_line_of(text, unknown[0], None)}: unknown section [{unknown[0]}] "
            f"(known: {', '.join(_FILE_SECTIONS)})"
        )
    from_environment: dict[tuple[str, str], str] = {}
    for variable, (overridden_section, overridden_key) in ENV_OVERRIDES.items():
        if os.environ.get(variable):
            data.setdefault(overridden_section, {})[overridden_key] = os.environ[variable]
            from_environment[(overridden_section, overridden_key)] = variable
    values: dict[str, Any] = {name: data[name] for name in _FILE_SECTIONS if name in data}
    values["workspace"] = root
    values["database_url"] = os.environ.get("CLINICMAIL_DATABASE_URL") or (
        f"sqlite:///{root / 'var' / 'clinicmail.db'}"
    )
    values["secret_key"] = os.environ.get("CLINICMAIL_SECRET_KEY") or _local_secret(root)
    values["sendgrid_api_key"] = os.environ.get("SENDGRID_API_KEY") or None
    values["webhook_public_key"] = os.environ.get(ENV_WEBHOOK_KEY) or None
    try:
        return Settings.model_validate(values)
    except ValidationError as error:
        first = error.errors()[0]
        location = [str(part) for part in first["loc"]]
        section = location[0] if location else ""
        key = location[1] if len(location) > 1 else None
        name = f"[{section}] {key}" if key else f"[{section}]"
        message = first["msg"].removeprefix("Value error, ")
        if first["type"] == "missing":
            message = "is required"
        setting_variable = from_environment.get((section, key or ""))
        if setting_variable:
            raise ConfigError(f"{setting_variable} (which sets {name}): {message}") from None
        line = _line_of(text, section, key)
        where = f"{config_path}:{line}" if line else str(config_path)
        raise ConfigError(f"{where}: {name} {message}") from None


def _line_of(text: str, section: str, key: str | None) -> int | None:
    """The line of `key` in `[section]` (or of the section header when key is None)."""
    current = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        header = re.match(r"^\[([^\]]+)\]$", line)
        if header:
            current = header[1].strip()
            if key is None and current == section:
                return number
            continue
        if current == section and key and re.match(rf"^{re.escape(key)}\s*=", line):
            return number
    return None


def _local_secret(root: Path) -> str:
    """A per-installation secret kept in var/ (git-ignored) when the environment sets none."""
    secret_file = root / "var" / "secret_key"
    if secret_file.is_file():
        return secret_file.read_text(encoding="utf-8").strip()
    secret_file.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    secret_file.write_text(value, encoding="utf-8")
    secret_file.chmod(0o600)
    return value
