"""The errors wanbuild reports, and the exit codes they map to.

    WanbuildError          a problem the user can fix; one line, exit 1
     └── ConfigError       a configuration file or override is wrong

Anything else escaping a command is a bug: exit 3 and a log (see error_handler).
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CHANGES = 2
EXIT_BUG = 3


class WanbuildError(Exception):
    """A problem the user can fix. The message names the file or key and the fix."""


class ConfigError(WanbuildError):
    """A configuration file, effect directory or override is wrong."""
