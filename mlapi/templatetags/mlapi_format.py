"""Numbers for people: Decimal amounts written out plainly (never 0E-8) and byte sizes."""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django import template

register = template.Library()

CENTS = Decimal("0.01")
MICRO = Decimal("0.000001")


def plain(value) -> str:
    """A Decimal without exponent or trailing zeros: 0E-8 → "0", 1.50000000 → "1.5"."""
    try:
        number = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        return str(value)
    if number == 0:
        return "0"
    text = format(number.normalize(), "f")
    return text


def money(value) -> str:
    """Cents, or six decimals for amounts below a cent (a single prediction's price), rounded half-up."""
    try:
        number = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        return str(value)
    if number == 0:
        return "0.00"
    if abs(number) < CENTS:
        return format(number.quantize(MICRO, rounding=ROUND_HALF_UP), "f")
    return format(number.quantize(CENTS, rounding=ROUND_HALF_UP), "f")


register.filter("plain_decimal", plain)
register.filter("money", money)


@register.filter("as_json")
def as_json(value) -> str:
    import json

    return json.dumps(value, separators=(", ", ": "), default=str)
