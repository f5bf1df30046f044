"""Admin pages: runs with their progress, model versions with sample grid and lineage, snapshots read-only.

Nothing is edited here: runs are started by ``train_gan`` (or the services) and only cancelled or
resumed from this page; snapshots and model versions are immutable records.
"""

from __future__ import annotations

from pathlib import Path

from django.contrib import admin, messages
from django.http import FileResponse, Http404, HttpRequest
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from dam.models import AssetVersion
from generative.models import DatasetSnapshot, ModelVersion, TrainingRun
from generative.services.errors import GenerativeError
from generative.services.training import cancel_training, resume_training


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


def lineage_html(snapshot: DatasetSnapshot):
    versions = AssetVersion.objects.select_related("asset").in_bulk([i["version"] for i in snapshot.items])
    rows = []
    for item in snapshot.items:
        version = versions.get(item["version"])
        if version is None:
            rows.append(("", f"(version {item['version']} deleted)", item["sha256"]))
        else:
            url = reverse("admin:dam_asset_change", args=[version.asset_id])
            rows.append((url, f"{version.asset.title} v{version.number}", item["sha256"]))
    table = format_html_join("", '<tr><td><a href="{}">{}</a></td><td><code>{}</code></td></tr>', rows)
    return format_html('<p>Content hash <code>{}</code> over {} images</p><table>{}</table>',
                       snapshot.content_hash, len(snapshot.items), table)


@admin.register(DatasetSnapshot)
class DatasetSnapshotAdmin(ReadOnlyAdmin):
    list_display = ["id", "collection", "tags", "count", "short_hash", "created_by", "created_at"]
    fields = ["collection", "include_descendants", "tags", "created_by", "created_at", "lineage"]
    readonly_fields = fields

    @admin.display(description="Images")
    def count(self, obj: DatasetSnapshot) -> int:
        return len(obj.items)

    @admin.display(description="Content hash")
    def short_hash(self, obj: DatasetSnapshot) -> str:
        return obj.content_hash[:12]

    @admin.display(description="Images (exact lineage)")
    def lineage(self, obj: DatasetSnapshot):
        return lineage_html(obj)


@admin.register(TrainingRun)
class TrainingRunAdmin(ReadOnlyAdmin):
    list_display = ["id", "snapshot", "resolution", "status", "progress_bar", "speed", "eta", "last_checkpoint_kimg",
                    "created_at"]
    list_filter = ["status", "resolution"]
    actions = ["cancel_runs", "resume_runs"]
    fields = ["snapshot", "status", "progress_bar", "progress", "metrics", "last_checkpoint_kimg", "sample_grid",
              "config", "run_dir", "error", "attempts", "owner", "heartbeat_at", "celery_task_id", "created_by",
              "created_at", "started_at", "finished_at"]
    readonly_fields = fields

    def has_change_permission(self, request, obj=None) -> bool:
        # Needed for the cancel/resume actions; every field stays read-only.
        return request.user.has_perm("generative.change_trainingrun")

    @admin.display(description="Progress")
    def progress_bar(self, obj: TrainingRun):
        done = min(obj.kimg / obj.target_kimg, 1.0) if obj.target_kimg else 0.0
        return format_html('<progress value="{}" max="1"></progress> {} / {} kimg', f"{done:.3f}",
                           f"{obj.kimg:.2f}", f"{obj.target_kimg:g}")

    @admin.display(description="img/s")
    def speed(self, obj: TrainingRun) -> str:
        value = obj.progress.get("images_per_s")
        return f"{value:.1f}" if value else "—"

    @admin.display(description="ETA")
    def eta(self, obj: TrainingRun) -> str:
        value = obj.progress.get("eta_s")
        return f"{value / 60:.1f} min" if value is not None and obj.status == TrainingRun.Status.RUNNING else "—"

    @admin.display(description="Latest samples")
    def sample_grid(self, obj: TrainingRun):
        if not obj.last_sample_grid:
            return "—"
        url = reverse("admin:generative_trainingrun_samples", args=[obj.pk])
        return format_html('<img src="{}" alt="samples" style="max-width:512px;image-rendering:pixelated">', url)

    def get_urls(self):
        view = self.admin_site.admin_view(self.samples_view)
        return [path("<int:pk>/samples.png", view, name="generative_trainingrun_samples"), *super().get_urls()]

    def samples_view(self, request: HttpRequest, pk: int) -> FileResponse:
        run = TrainingRun.objects.filter(pk=pk).first()
        if run is None or not self.has_view_permission(request, run) or not run.last_sample_grid:
            raise Http404("no sample grid")
        return grid_response(run.last_sample_grid)

    @admin.action(description="Cancel the selected runs")
    def cancel_runs(self, request: HttpRequest, queryset) -> None:
        self._apply(request, queryset, cancel_training, "cancelled")

    @admin.action(description="Resume the selected runs from their last checkpoint")
    def resume_runs(self, request: HttpRequest, queryset) -> None:
        self._apply(request, queryset, resume_training, "queued again")

    def _apply(self, request, queryset, service, done: str) -> None:
        count = 0
        for run in queryset:
            try:
                service(run=run)
                count += 1
            except GenerativeError as exc:
                self.message_user(request, str(exc), messages.ERROR)
        if count:
            self.message_user(request, f"{count} run(s) {done}.", messages.SUCCESS)


def grid_response(grid: str) -> FileResponse:
    file = Path(grid)
    if not file.is_file():
        raise Http404("the sample grid file is gone")
    return FileResponse(file.open("rb"), content_type="image/png")


@admin.register(ModelVersion)
class ModelVersionAdmin(ReadOnlyAdmin):
    list_display = ["name", "number", "run", "swd", "kid", "created_at"]
    search_fields = ["name"]
    fields = ["name", "number", "run", "sample_grid", "metrics", "config", "export_path", "onnx_path",
              "checkpoint_path", "created_at", "lineage"]
    readonly_fields = fields

    @admin.display(description="SWD (x1e3)")
    def swd(self, obj: ModelVersion) -> str:
        value = obj.metrics.get("swd_mean")
        return f"{value:.2f}" if isinstance(value, float) else "—"

    @admin.display(description="KID")
    def kid(self, obj: ModelVersion) -> str:
        value = obj.metrics.get("kid")
        return f"{value:.4f}" if isinstance(value, float) else "—"

    @admin.display(description="Samples (fixed seeds)")
    def sample_grid(self, obj: ModelVersion):
        if not obj.sample_grid_path:
            return "—"
        url = reverse("admin:generative_modelversion_samples", args=[obj.pk])
        return format_html('<img src="{}" alt="samples" style="max-width:512px;image-rendering:pixelated">', url)

    @admin.display(description="Training data (exact lineage)")
    def lineage(self, obj: ModelVersion):
        return lineage_html(obj.snapshot)

    def get_urls(self):
        view = self.admin_site.admin_view(self.samples_view)
        return [path("<int:pk>/samples.png", view, name="generative_modelversion_samples"), *super().get_urls()]

    def samples_view(self, request: HttpRequest, pk: int) -> FileResponse:
        version = ModelVersion.objects.filter(pk=pk).first()
        if version is None or not self.has_view_permission(request, version) or not version.sample_grid_path:
            raise Http404("no sample grid")
        return grid_response(version.sample_grid_path)
