"""A GIN index for the API's full-text search (PostgreSQL only; SQLite searches with icontains).

The indexed expression is exactly the one ``dam.api.filters.search_assets`` builds, so the planner
can use it: keep the two in step.
"""

from django.db import migrations

INDEX = "dam_asset_search_gin"
EXPRESSION = (
    "(setweight(to_tsvector('simple'::regconfig, COALESCE(title, '')), 'A') || "
    "setweight(to_tsvector('simple'::regconfig, COALESCE(description, '')), 'B'))"
)


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {INDEX} ON dam_asset USING gin ({EXPRESSION})")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("dam", "0005_api_tokens_idempotency")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
