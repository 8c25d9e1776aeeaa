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


def string_literal(text: str, what: str = "SQL text") -> str:
    """Text as a quoted SQL string, for the few statements that take no parameters (COMMENT ON).

    Quotes are doubled (standard SQL, which DuckDB follows: a backslash is an ordinary
    character); a NUL byte, which no comment needs, is refused.
    """
    if not isinstance(text, str) or "\x00" in text:
        raise ConfigError(f"{what} {text!r}: expected text without NUL bytes")
    return "'" + text.replace("'", "''") + "'"
