from tests.webhooks.fixtures import module_engine, module_store_url, receiver  # noqa: F401
