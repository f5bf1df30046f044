from django.apps import AppConfig


class DamConfig(AppConfig):
    name = "dam"
    verbose_name = "Brand library"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from dam import checks, signal_handlers  # noqa: F401  (checks register on import)
        from dam.webhooks import handlers as webhook_handlers

        signal_handlers.connect()
        webhook_handlers.connect()
