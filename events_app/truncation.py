"""How the server shortens a long text it puts into an event (a state message, an
answer's body), in Python and, for a statement that quotes a row it reads itself, in SQL:
the two definitions side by side, tested against each other."""

from __future__ import annotations


def truncated(value: str, length: int) -> str:
    """``value`` with its middle cut when it is over ``length`` characters, as the
    reference shortens the messages and answers it puts into events."""
    if len(value) <= length:
        return value
    half = length // 2
    omitted = len(value) - 2 * half
    shortened = f"{value[:half]}...{omitted} additional characters...{value[-half:]}"
    return shortened if len(shortened) < len(value) else value


def truncated_sql(text: str, length: int) -> str:
    """:func:`truncated` as a PostgreSQL expression of the text expression ``text``, for
    a statement that quotes a row it reads itself."""
    half = length // 2
    shortened = (
        f"left({text}, {half}) || '...' || (length({text}) - {2 * half})::text"
        f" || ' additional characters...' || right({text}, {half})"
    )
    return (
        f"CASE WHEN length({text}) > {length} AND length({shortened}) < length({text}) THEN {shortened} ELSE {text} END"
    )
