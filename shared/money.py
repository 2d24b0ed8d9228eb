"""Money is integer micro-dollars everywhere it is stored or compared (invariant 5)."""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal

MICROS_PER_USD = 1_000_000


def usd_to_micros(usd: Decimal | int | str) -> int:
    """Dollars to micro-dollars, rounding up so a cap is never widened by rounding."""
    return int((Decimal(usd) * MICROS_PER_USD).to_integral_value(rounding=ROUND_CEILING))


def micros_to_usd(micros: int) -> float:
    """For display and JSON only; never store the result."""
    return round(micros / MICROS_PER_USD, 6)


def fmt_usd(micros: int) -> str:
    return f"${micros / MICROS_PER_USD:,.4f}"
