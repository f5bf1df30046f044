"""AssetDeletion: a durable record of each hard-deleted asset, read by /api/v1/sync/ as a tombstone."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("dam", "0006_asset_search_index")]

    operations = [
        migrations.CreateModel(
            name="AssetDeletion",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("asset_id", models.UUIDField()),
                ("collection_id", models.BigIntegerField()),
                ("collection_path", models.CharField(max_length=1000)),
                ("was_published", models.BooleanField(default=False)),
                ("deleted_at", models.DateTimeField()),
            ],
            options={
                "ordering": ["deleted_at", "asset_id"],
                "indexes": [models.Index(fields=["deleted_at", "asset_id"], name="dam_assetdeletion_sync")],
            },
        ),
    ]
