"""The app PIN rules (pure function; the API tests cover how the answers look)."""

import pytest

from backend.services.devices import PinFormat, PinTooSimple, check_pin


@pytest.mark.parametrize("pin", ["4739", "2580", "13579", "1000", "5090", "741236"])
def test_pins_that_are_accepted(pin):
    check_pin(pin)


def test_pin_rule_classes():
    with pytest.raises(PinFormat):
        check_pin("12 34")
    with pytest.raises(PinTooSimple):
        check_pin("5678")
