"""SQL identifiers that come from file names or settings: checked, then quoted.

Values always travel as query parameters; a name (table, view, column, variable) cannot, so
it must pass this check before it is placed in SQL text.
"""

from __future__ import annotations

import re

from flows.errors import ConfigError

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def identifier(name: str, what: str = "SQL name") -> str:
    """`name` unchanged if it is a plain identifier; otherwise a ConfigError naming it."""
    if not isinstance(name, str) or not _IDENTIFIER.match(name):
        raise ConfigError(f"{what} {name!r}: expected letters, digits and '_' only")
    return name


def quoted(name: str, what: str = "SQL name") -> str:
    """A checked identifier in double quotes, ready for SQL text."""
    return f'"{identifier(name, what)}"'
