from tests.events.sandbox_fixtures import events_sandbox, vendor_sandbox  # noqa: F401
from tests.webhooks.fixtures import module_engine, module_store_url, receiver  # noqa: F401
