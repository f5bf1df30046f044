"""A stored full-text document on dam_asset for the API's search (PostgreSQL only; SQLite searches with icontains).

0006 indexed the expression instead. A query can only use such an index through the expression
itself, and wherever the planner chose not to (a word in many assets, a filter it evaluates row by
row) PostgreSQL computed ``to_tsvector`` again for every row it looked at. A generated column is
computed once per write, by PostgreSQL itself, so every path that writes a title or description
(``save``, ``update``, ``bulk_create``, raw SQL) keeps it current; the column is not on the model,
so ordinary reads of assets do not carry it.

The column is read by ``dam.api.filters.search_assets``. PostgreSQL refuses to change the type of
a column a generated column uses: a migration that alters ``title`` or ``description`` has to drop
``search_vector`` first and add it again after.
"""

from django.db import migrations

COLUMN = "search_vector"
INDEX = "dam_asset_search_vector_gin"
# The same document as 0006: title weighted A, description B, no stemming or stop words.
DOCUMENT = (
    "(setweight(to_tsvector('simple'::regconfig, COALESCE(title, '')), 'A') || "
    "setweight(to_tsvector('simple'::regconfig, COALESCE(description, '')), 'B'))"
)
OLD_INDEX = "dam_asset_search_gin"


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"ALTER TABLE dam_asset ADD COLUMN IF NOT EXISTS {COLUMN} tsvector GENERATED ALWAYS AS ({DOCUMENT}) STORED"
    )
    schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {INDEX} ON dam_asset USING gin ({COLUMN})")
    schema_editor.execute(f"DROP INDEX IF EXISTS {OLD_INDEX}")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {OLD_INDEX} ON dam_asset USING gin ({DOCUMENT})")
    schema_editor.execute(f"ALTER TABLE dam_asset DROP COLUMN IF EXISTS {COLUMN}")


class Migration(migrations.Migration):
    dependencies = [("dam", "0007_asset_deletion")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
