"""Resources shared by every domain."""

from __future__ import annotations

from typing import Optional

import dagster as dg
import sqlalchemy as sa

from dealer_pipeline.store.engine import get_engine


class StoreResource(dg.ConfigurableResource):
    """The canonical store. With no URL configured it uses `DEALER_PIPELINE_DATABASE_URL`,
    so a database password never lands in Dagster's run config."""

    database_url: Optional[str] = None

    def engine(self) -> sa.Engine:
        return get_engine(self.database_url)
