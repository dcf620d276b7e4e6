from pathlib import Path

import pytest

from pipeline.config import load_settings
from pipeline.errors import ConfigError, WorkspaceError

REPO = Path(__file__).resolve().parents[2]


def _workspace(tmp_path: Path, text: str) -> Path:
    (tmp_path / "clinic.toml").write_text(text, encoding="utf-8")
    return tmp_path


def test_sample_clinic_loads_and_hides_secrets(monkeypatch):
    monkeypatch.setenv("CLINICMAIL_SECRET_KEY", "very-secret-value")
    monkeypatch.setenv("SENDGRID_API_KEY", "SG.very-secret-key")
    settings = load_settings(REPO)
    assert settings.clinic.zone.key == "Europe/London"
    assert settings.sending.quiet_window is not None
    assert "very-secret" not in repr(settings)
    assert settings.sendgrid_api_key.get_secret_value() == "SG.very-secret-key"


def test_environment_overrides_the_file(monkeypatch):
    monkeypatch.setenv("CLINICMAIL_DELIVERY_BACKEND", "file")
    monkeypatch.setenv("CLINICMAIL_PUBLIC_URL", "https://mail.clinic.example/")
    monkeypatch.setenv("CLINICMAIL_SECRET_KEY", "k")
    settings = load_settings(REPO)
    assert settings.delivery.backend == "file"
    assert settings.web.public_url == "https://mail.clinic.example"


def test_bad_value_names_file_key_and_line(tmp_path, monkeypatch):
    monkeypatch.setenv("CLINICMAIL_SECRET_KEY", "k")
    text = (
        (REPO / "clinic.toml")
        .read_text()
        .replace('backend = "local"', 'backend = "carrier-pigeon"')
    )
    root = _workspace(tmp_path, text)
    line = next(n for n, row in enumerate(text.splitlines(), 1) if "carrier-pigeon" in row)
    with pytest.raises(ConfigError, match=rf"clinic.toml:{line}: \[delivery\] backend"):
        load_settings(root)


def test_delivery_tuning_comes_from_the_environment_too(monkeypatch):
    monkeypatch.setenv("CLINICMAIL_SECRET_KEY", "k")
    monkeypatch.setenv("CLINICMAIL_DELIVERY_CONCURRENCY", "6")
    monkeypatch.setenv("CLINICMAIL_DELIVERY_PROCESSES", "3")
    monkeypatch.setenv("CLINICMAIL_RATE_LIMIT", "250.5")
    delivery = load_settings(REPO).delivery
    assert (delivery.concurrency, delivery.processes, delivery.rate_limit_per_second) == (
        6,
        3,
        250.5,
    )


def test_a_bad_value_from_the_environment_names_the_variable_not_a_line(monkeypatch):
    monkeypatch.setenv("CLINICMAIL_SECRET_KEY", "k")
    monkeypatch.setenv("CLINICMAIL_DELIVERY_PROCESSES", "0")
    with pytest.raises(
        ConfigError,
        match=r"^CLINICMAIL_DELIVERY_PROCESSES \(which sets \[delivery\] processes\): "
        "Input should be greater than or equal to 1$",
    ):
        load_settings(REPO)


def test_missing_required_key_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("CLINICMAIL_SECRET_KEY", "k")
    root = _workspace(tmp_path, '[clinic]\nname = "X"\n')
    with pytest.raises(ConfigError, match=r"\[clinic\] postal_address is required"):
        load_settings(root)


def test_unknown_timezone_and_unknown_section(tmp_path, monkeypatch):
    monkeypatch.setenv("CLINICMAIL_SECRET_KEY", "k")
    text = (REPO / "clinic.toml").read_text().replace("Europe/London", "Europe/Atlantis")
    with pytest.raises(ConfigError, match="unknown timezone 'Europe/Atlantis'"):
        load_settings(_workspace(tmp_path, text))
    (tmp_path / "clinic.toml").write_text("[clinc]\nname = 1\n")
    with pytest.raises(ConfigError, match=r"clinic.toml:1: unknown section \[clinc\]"):
        load_settings(tmp_path)


def test_invalid_toml_is_reported(tmp_path):
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(_workspace(tmp_path, "[clinic\n"))


def test_no_workspace_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.delenv("CLINICMAIL_WORKSPACE", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(WorkspaceError, match="clinicmail init"):
        load_settings()


def test_the_public_address_follows_the_port_the_app_listens_on(monkeypatch):
    monkeypatch.setenv("CLINICMAIL_SECRET_KEY", "k")
    monkeypatch.delenv("CLINICMAIL_PUBLIC_URL", raising=False)
    settings = load_settings(REPO).listening_on("0.0.0.0", 8101)
    assert settings.web.public_url == "http://127.0.0.1:8101"


def test_a_public_address_given_stays_whatever_the_port(monkeypatch):
    monkeypatch.setenv("CLINICMAIL_SECRET_KEY", "k")
    monkeypatch.setenv("CLINICMAIL_PUBLIC_URL", "https://mail.clinic.example")
    settings = load_settings(REPO).listening_on("127.0.0.1", 8101)
    assert settings.web.public_url == "https://mail.clinic.example"
