"""Celery tasks of the generative app (``train_*`` go to the ``train`` queue).

A worker killed mid-run loses its unacknowledged message only as far as the broker allows (Redis
gives it back after its visibility timeout; the filesystem transport not at all), so a starting
train worker also looks for runs whose owner is gone and queues them again. Both paths land in
:func:`train_gan`, which is idempotent: whoever claims the run first resumes it from its last
checkpoint, every other delivery does nothing.
"""

from __future__ import annotations

import logging
import os

from celery import shared_task
from celery.signals import worker_ready, worker_shutting_down
from django.db import close_old_connections, connection

from generative.models import TrainingRun

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def train_gan(run_id: int) -> str:
    from generative.services import runner

    run = runner.claim(run_id)
    if run is None:
        return "skipped"
    try:
        # A run killed after training but before registering is taken over at its target: the
        # trainer has nothing left to do, and finish() registers it.
        status = runner.execute(run)
        if status == TrainingRun.Status.FINISHED:
            runner.finish(run)
        elif status == TrainingRun.Status.QUEUED:
            train_gan.delay(run_id)  # released by a shutting-down worker: any train worker may go on
        return status
    except Exception as exc:
        logger.exception("training run %s failed", run_id)
        runner.fail(run_id, error=exc)
        return TrainingRun.Status.FAILED


def orphaned_runs() -> list[int]:
    """Active runs that no live process is training (or, when queued, that may have lost their message)."""
    from generative.services.runner import owner_alive

    found = []
    for run in TrainingRun.objects.filter(status__in=TrainingRun.ACTIVE):
        if run.status == TrainingRun.Status.QUEUED or not owner_alive(run):
            found.append(run.pk)
    return found


@worker_shutting_down.connect(dispatch_uid="generative.tasks.release_runs")
def release_runs(**kwargs) -> None:
    """Ask this worker's pool children to checkpoint and hand their runs back, instead of finishing them."""
    from generative.services.runner import shutdown_flag

    flag = shutdown_flag(os.getpid())
    flag.parent.mkdir(parents=True, exist_ok=True)
    flag.touch()


@worker_ready.connect(dispatch_uid="generative.tasks.recover_runs")
def recover_runs(sender=None, **kwargs) -> None:
    from generative.services.runner import shutdown_flag

    shutdown_flag(os.getpid()).unlink(missing_ok=True)  # left by an earlier process with this pid
    queues = {queue.name for queue in getattr(getattr(sender, "task_consumer", None), "queues", [])}
    if "train" not in queues:
        return
    close_old_connections()
    try:
        for run_id in orphaned_runs():
            logger.info("re-queuing training run %s, whose worker is gone", run_id)
            train_gan.delay(run_id)
    finally:
        # The worker's parent process keeps no connection its pool children could inherit.
        connection.close()
