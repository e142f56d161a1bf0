"""The canonical store: schema, engine, migrations and the small repository layer."""
