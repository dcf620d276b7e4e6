"""clinic.toml that is not UTF-8 (finding 8): a one-line error naming the file and line, from
every command, never a traceback."""

from __future__ import annotations

from click.testing import CliRunner

from pipeline.cli import main


def test_a_clinic_toml_that_is_not_utf8_is_a_one_line_error(workspace):
    config = workspace / "clinic.toml"
    text = config.read_text(encoding="utf-8")
    config.write_bytes(text.replace("[clinic]\n", "[clinic]\n# Café\n", 1).encode("cp1252"))
    result = CliRunner().invoke(main, ["--workspace", str(workspace), "content", "list"])
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {config}:4: not UTF-8 text (byte 0xe9); save the file as UTF-8\n"
    )


def test_a_nul_byte_in_clinic_toml_is_a_one_line_error(workspace):
    config = workspace / "clinic.toml"
    config.write_text(config.read_text(encoding="utf-8") + "\x00\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["--workspace", str(workspace), "content", "list"])
    assert result.exit_code == 1
    assert len(result.output.splitlines()) == 1
    assert result.output.startswith(f"Error: {config}: not valid TOML")
