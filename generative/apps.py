from django.apps import AppConfig


class GenerativeConfig(AppConfig):
    name = "generative"
    verbose_name = "Generative models"
    default_auto_field = "django.db.models.BigAutoField"
