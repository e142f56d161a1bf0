"""The operations tests run real assets against the Autotrader sandbox harness."""

from tests.autotrader.conftest import at_sandbox, harness  # noqa: F401 - fixtures used by these tests
