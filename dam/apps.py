from django.apps import AppConfig


class DamConfig(AppConfig):
    name = "dam"
    verbose_name = "Brand library"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from dam import checks  # noqa: F401  (registers system checks)
