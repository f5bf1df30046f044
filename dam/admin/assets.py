"""The librarian's admin: asset list with thumbnails, filters, bulk actions, multi-file upload."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.http import HttpRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from dam.exceptions import DamError, PermissionDeniedError
from dam.ingest.errors import RejectedFile
from dam.models import Asset, AssetVersion, Collection, CollectionPermission, Rendition
from dam.selectors import collections_for
from dam.services.assets import assets_add_tag, assets_move
from dam.services.ingest import ingest_file
from dam.services.renditions import rendition_url
from dam.services.workflow import transition

THUMBNAIL_SPEC = "max-165x165|format-webp"


def thumbnail_html(version: AssetVersion | None, *, size: int = 80):
    if version is None:
        return "—"
    return format_html(
        '<img src="{}" alt="" loading="lazy" style="max-width:{}px;max-height:{}px;background:#eee">',
        rendition_url(version=version, spec=THUMBNAIL_SPEC),
        size,
        size,
    )


class AssetActionForm(ActionForm):
    tag = forms.CharField(required=False, help_text="Tag to add")
    target_collection = forms.ModelChoiceField(
        Collection.objects.all(), required=False, label="Move to", empty_label="(collection)"
    )


class AssetVersionInline(admin.TabularInline):
    model = AssetVersion
    extra = 0
    can_delete = False
    fields = ["thumb", "number", "original_filename", "mime", "dimensions", "size", "sha256", "twin", "renditions_list"]
    readonly_fields = fields
    show_change_link = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="Preview")
    def thumb(self, obj: AssetVersion):
        return thumbnail_html(obj, size=120)

    @admin.display(description="Size (px)")
    def dimensions(self, obj: AssetVersion) -> str:
        return f"{obj.width}×{obj.height}"

    @admin.display(description="Near duplicate of")
    def twin(self, obj: AssetVersion):
        if obj.near_duplicate_of is None:
            return "—"
        twin = obj.near_duplicate_of
        url = reverse("admin:dam_asset_change", args=[twin.asset_id])
        return format_html('<a href="{}">{} (distance {})</a>', url, twin, obj.near_duplicate_distance)

    @admin.display(description="Renditions")
    def renditions_list(self, obj: AssetVersion):
        items: list[Rendition] = list(obj.renditions.all())
        if not items:
            return "—"
        return format_html_join(
            ", ", '<a href="{}">{}</a> ({}×{})',
            ((rendition_url(version=obj, spec=r.spec), r.spec, r.width, r.height) for r in items),
        )


@admin.register(Asset)
class AssetAdmin(admin.ModelAdmin):
    list_display = [
        "thumb", "title", "collection", "status", "published", "kind", "mime", "source", "duplicate_flag", "created_at"
    ]
    list_display_links = ["thumb", "title"]
    list_filter = ["collection", "tags", "status", "kind", "source", "current_version__mime"]
    search_fields = ["title", "description", "tags__name", "current_version__original_filename"]
    list_select_related = ["collection", "current_version", "current_version__near_duplicate_of__asset"]
    autocomplete_fields = ["tags"]
    readonly_fields = [
        "id", "source", "status", "current_version", "published_version", "created_by", "created_at", "updated_at",
        "preview",
    ]
    fieldsets = [
        (None, {"fields": ["preview", "title", "description", "collection", "tags", "status", "source"]}),
        ("Focal point", {"fields": ["focal_x", "focal_y", "focal_width", "focal_height"], "classes": ["collapse"]}),
        ("Rights", {"fields": ["licence", "usage_terms", "expires_at", "training_allowed"]}),
        ("Record", {"fields": ["id", "current_version", "published_version", "created_by", "created_at", "updated_at"]}),
    ]
    inlines = [AssetVersionInline]
    action_form = AssetActionForm
    actions = ["add_tag", "move_to_collection", "submit_for_review", "publish", "archive"]
    change_list_template = "admin/dam/asset/change_list.html"

    def get_queryset(self, request: HttpRequest):
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        return qs.filter(collection__in=collections_for(request.user, CollectionPermission.Action.VIEW))

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "collection":
            kwargs["queryset"] = collections_for(request.user, CollectionPermission.Action.ADD)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Assets are created by uploading files, never as empty rows.
        return False

    @admin.display(description="")
    def thumb(self, obj: Asset):
        return thumbnail_html(obj.current_version)

    @admin.display(description="Preview")
    def preview(self, obj: Asset):
        return thumbnail_html(obj.current_version, size=320)

    @admin.display(description="Delivered", boolean=True)
    def published(self, obj: Asset) -> bool:
        return obj.published_version_id is not None

    @admin.display(description="MIME", ordering="current_version__mime")
    def mime(self, obj: Asset) -> str:
        return obj.current_version.mime if obj.current_version else "—"

    @admin.display(description="Near duplicate of")
    def duplicate_flag(self, obj: Asset):
        twin = obj.current_version.near_duplicate_of if obj.current_version else None
        if twin is None:
            return ""
        url = reverse("admin:dam_asset_change", args=[twin.asset_id])
        return format_html('<a href="{}">{}</a>', url, twin)

    @admin.action(description="Add the tag to the selected assets")
    def add_tag(self, request: HttpRequest, queryset):
        tag = request.POST.get("tag", "")
        try:
            count = assets_add_tag(assets=queryset.select_related("collection"), tag=tag, user=request.user)
        except (ValueError, PermissionDeniedError) as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        self.message_user(request, f"Tagged {count} assets with “{tag.strip()}”.", messages.SUCCESS)

    @admin.action(description="Move the selected assets to the collection")
    def move_to_collection(self, request: HttpRequest, queryset):
        target = Collection.objects.filter(pk=request.POST.get("target_collection") or None).first()
        if target is None:
            self.message_user(request, "Choose a collection to move to.", messages.ERROR)
            return
        try:
            count = assets_move(assets=queryset.select_related("collection"), collection=target, user=request.user)
        except PermissionDeniedError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        self.message_user(request, f"Moved {count} assets to {target}.", messages.SUCCESS)

    def get_urls(self):
        from dam.admin import review

        site = self.admin_site
        return [
            path("upload/", site.admin_view(self.upload_view), name="dam_asset_upload"),
            path("review/", site.admin_view(lambda r: review.queue_view(r, admin_site=site)), name="dam_review_queue"),
            path(
                "review/<int:version_id>/",
                site.admin_view(lambda r, version_id: review.compare_view(r, version_id, admin_site=site)),
                name="dam_review_compare",
            ),
            *super().get_urls(),
        ]

    def _transition_current(self, request: HttpRequest, queryset, action: str, label: str) -> None:
        done, failed = 0, []
        for asset in queryset.select_related("current_version"):
            if asset.current_version is None:
                continue
            try:
                transition(version=asset.current_version, action=action, actor=request.user)
                done += 1
            except DamError as exc:
                failed.append(exc.message)
        if done:
            self.message_user(request, f"{label}: {done} asset(s).", messages.SUCCESS)
        for message in failed:
            self.message_user(request, message, messages.ERROR)

    @admin.action(description="Submit the current versions for review")
    def submit_for_review(self, request: HttpRequest, queryset):
        self._transition_current(request, queryset, "submit", "Submitted")

    @admin.action(description="Publish the approved current versions")
    def publish(self, request: HttpRequest, queryset):
        self._transition_current(request, queryset, "publish", "Published")

    @admin.action(description="Archive (stop delivering)")
    def archive(self, request: HttpRequest, queryset):
        self._transition_current(request, queryset, "archive", "Archived")

    def upload_view(self, request: HttpRequest):
        form = UploadForm(request.POST or None, request.FILES or None, user=request.user)
        results, rejected = [], []
        if request.method == "POST" and form.is_valid():
            tags = [t for t in form.cleaned_data["tags"].split(",") if t.strip()]
            for upload in request.FILES.getlist("files"):
                try:
                    results.append(
                        ingest_file(
                            name=upload.name,
                            fileobj=upload,
                            collection=form.cleaned_data["collection"],
                            user=request.user,
                            tags=tags,
                        )
                    )
                except (RejectedFile, PermissionDeniedError) as exc:
                    rejected.append(str(exc))
            created = sum(r.outcome == "created" for r in results)
            dupes = len(results) - created
            level = messages.WARNING if rejected else messages.SUCCESS
            self.message_user(
                request, f"Imported {created}, duplicates {dupes}, rejected {len(rejected)}.", level
            )
            if not rejected:
                return HttpResponseRedirect(reverse("admin:dam_asset_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Upload files",
            "form": form,
            "results": results,
            "rejected": rejected,
        }
        return TemplateResponse(request, "admin/dam/asset/upload.html", context)


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"multiple": True}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        if isinstance(data, list | tuple):
            return [super(MultipleFileField, self).clean(d, initial) for d in data]
        return [super().clean(data, initial)]


class UploadForm(forms.Form):
    files = MultipleFileField(help_text="JPEG, PNG, WebP, AVIF, GIF, TIFF or SVG; several at once.")
    collection = forms.ModelChoiceField(Collection.objects.none())
    tags = forms.CharField(required=False, help_text="Comma-separated tags for every file")

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["collection"].queryset = collections_for(user, CollectionPermission.Action.ADD)
