"""Money is integer micro-dollars everywhere it is stored or compared (invariant 5)."""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

MICROS_PER_USD = 1_000_000


def usd_to_micros(usd: Decimal | int | str) -> int:
    """Dollars to micro-dollars, rounding up so a cap is never widened by rounding."""
    return int((Decimal(usd) * MICROS_PER_USD).to_integral_value(rounding=ROUND_CEILING))


def micros_to_usd(micros: int) -> float:
    """For display and JSON only; never store the result."""
    return round(micros / MICROS_PER_USD, 6)


def fmt_usd(micros: int, places: int = 4) -> str:
    """`$1,234.5678`: micro-dollars at a fixed precision, rounded half up from the integer
    (never a float's own digits). shared/display.py says which precision goes where."""
    amount = (Decimal(int(micros)) / MICROS_PER_USD).quantize(
        Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP
    )
    sign = "-" if amount < 0 else ""
    return f"{sign}${abs(amount):,.{places}f}"
