from decimal import Decimal

import pytest

from mlapi.templatetags.mlapi_format import money, plain


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (Decimal("0E-8"), "0"),
        (Decimal("1.50000000"), "1.5"),
        (Decimal("49"), "49"),
        (Decimal("1E+2"), "100"),
        (Decimal("0.00040000"), "0.0004"),
    ],
)
def test_plain_decimals_have_no_exponent_and_no_trailing_zeros(value, shown):
    assert plain(value) == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (Decimal("0E-10"), "0.00"),
        (Decimal("0.0010300000"), "0.001030"),
        (Decimal("0.0000005"), "0.000001"),
        (Decimal("12.345"), "12.35"),
        (Decimal("12.344"), "12.34"),
    ],
)
def test_money_is_cents_or_six_decimals_below_a_cent_rounded_half_up(value, shown):
    assert money(value) == shown
