"""The exceptions clinicmail raises for problems a person can act on.

The CLI turns them into a one-line message and exit code 1; the web app into a page or a 4xx.
A message says what is wrong in words anyone using the product reads; the command that helps
(`command_hint`) is added only on the command line, never on a web page.

    ClinicmailError
    ├── WorkspaceError      no clinic.toml found, or a workspace path that is not one
    ├── ConfigError         clinic.toml or the environment holds a bad value
    ├── MissingExtra        a feature needs an optional dependency that is not installed
    ├── InputError          a file or value a person supplied cannot be used
    │   ├── ContentError    an article file that cannot be parsed
    │   ├── CsvError        a contacts file that cannot be read at all
    │   ├── SpecError       a segments or campaign file that does not validate
    │   ├── TemplateError   an email template that does not render or compile
    │   └── BadToken        an unsubscribe/preferences/view link that was altered or is not ours
    ├── NotFoundError       a named thing (article, campaign, contact) does not exist
    ├── StateError          an action that the current state does not allow
    └── DeliveryError       a delivery backend cannot be used as configured
"""

from __future__ import annotations


class ClinicmailError(Exception):
    """Base class: its message is shown to the person as it is."""

    def __init__(self, message: str = "", *, command_hint: str | None = None):
        super().__init__(message)
        self.command_hint = command_hint

    def for_command_line(self) -> str:
        """The message, with the command that helps when there is one."""
        return f"{self}; {self.command_hint}" if self.command_hint else str(self)


class WorkspaceError(ClinicmailError):
    pass


class ConfigError(ClinicmailError):
    pass


class MissingExtra(ClinicmailError):
    """What needs it, and the pip command that installs the extra it belongs to."""


class InputError(ClinicmailError):
    """A problem with something a person supplied; says where when it can."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        command_hint: str | None = None,
    ):
        self.path = path
        self.line = line
        self.detail = message
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        super().__init__(f"{where}{message}", command_hint=command_hint)


class ContentError(InputError):
    pass


class CsvError(InputError):
    pass


class SpecError(InputError):
    pass


class TemplateError(InputError):
    pass


class BadToken(InputError):
    pass


class NotFoundError(ClinicmailError):
    pass


class StateError(ClinicmailError):
    pass


class DeliveryError(ClinicmailError):
    pass
