"""The project's one exception base: every error it raises says what went wrong and what to do
next, and carries the exit code a script ends with (the promise in README.md)."""

from __future__ import annotations

# Exit codes, the same for every script.
DONE = 0
FAILED = 1  # at run time: a broker, a network, a service
BAD_INPUT = 2  # bad input or configuration; nothing was placed, sent or written
INTERRUPTED = 130  # Ctrl-C: the shell's code for a process stopped by SIGINT


class NiftyError(Exception):
    """A failure at run time; the message names the next step."""

    exit_code: int = FAILED


class InputError(NiftyError):
    """Bad input or configuration: the user must change something before running again."""

    exit_code = BAD_INPUT
