from django.apps import AppConfig


class GenerativeConfig(AppConfig):
    name = "generative"
    verbose_name = "Generative models"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from dam.api.jobs import register_job_kind
        from generative.api import TrainingJobs

        register_job_kind(TrainingJobs())  # /api/v1/jobs/ with "kind": "training"
