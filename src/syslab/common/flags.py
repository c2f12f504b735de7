"""Parsing the list-valued flags several labs take (`--batch 8,32,64`)."""

from __future__ import annotations

from syslab.common.errors import UserError


def numbers(text: str, what: str, kind: type = int) -> list:
    """Comma-separated numbers of `kind`; a UserError naming `what` otherwise."""
    try:
        values = [kind(p) for p in text.split(",") if p.strip()]
    except ValueError:
        noun = "integers" if kind is int else "numbers"
        raise UserError(f"{what} must be comma-separated {noun}, got {text!r}") from None
    if not values:
        raise UserError(f"no {what} given")
    return values
