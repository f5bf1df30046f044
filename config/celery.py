"""The Celery app: four queues, tasks routed by name, late acknowledgement everywhere."""

from __future__ import annotations

import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("brandforge")
app.config_from_object("django.conf:settings", namespace="CELERY")

QUEUES = ("default", "renditions", "train", "generate")

app.conf.update(
    task_queues=[Queue(name, routing_key=name) for name in QUEUES],
    task_default_queue="default",
    task_default_routing_key="default",
    task_routes={
        "dam.tasks.prewarm_renditions": {"queue": "renditions"},
        "dam.tasks.render_rendition": {"queue": "renditions"},
        "generative.tasks.train_*": {"queue": "train"},
        "generative.tasks.generate_*": {"queue": "generate"},
    },
    # Tasks are idempotent, so a task lost with its worker is safely run again.
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    result_expires=7 * 24 * 3600,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)
app.autodiscover_tasks()

app.conf.beat_schedule = {
    "dam-reconcile-pending-files": {"task": "dam.tasks.reconcile_pending_files", "schedule": 3600.0},
    "dam-expire-assets": {"task": "dam.tasks.expire_assets", "schedule": 60.0},
    "dam-send-overdue-webhooks": {"task": "dam.webhooks.tasks.send_overdue_webhooks", "schedule": 60.0},
}
