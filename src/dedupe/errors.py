"""Errors by scope: a bad record is a value (:class:`dedupe.records.Skipped`); a failed run is
one of these exceptions. Only the CLI turns either into text and an exit code."""

from __future__ import annotations


class DedupeError(Exception):
    """Base class of every error dedupe raises on purpose."""


class ConfigError(DedupeError, ValueError):
    """An option has a value dedupe cannot work with; the message quotes it."""


class InputError(DedupeError):
    """Input that cannot be read at all, or a bad record under ``strict=True``.

    Carries the file, the 1-based line (None for a whole file) and the reason, so the CLI prints
    one line: ``FILE:LINE: REASON``.
    """

    def __init__(self, path: str, line: int | None, reason: str) -> None:
        self.path = path
        self.line = line
        self.reason = reason
        where = path if line is None else f"{path}:{line}"
        super().__init__(f"{where}: {reason}")


class RecordExistsError(DedupeError, KeyError):
    """An index was asked to add an id it already holds; the message names the id."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""
