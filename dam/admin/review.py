"""Reviewer screens: the queue of versions waiting on my steps, bulk decisions, side by side."""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import Http404, HttpRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse

from dam.admin.assets import thumbnail_html
from dam.exceptions import DamError
from dam.models import AssetVersion, CollectionPermission, ReviewTransition
from dam.selectors import review_queue, user_can
from dam.services.workflow import transition

REVIEW_ACTIONS = {"approve": "Approve", "request_changes": "Request changes", "reject": "Reject"}


def queue_view(request: HttpRequest, *, admin_site):
    if request.method == "POST":
        return _decide(request)
    reviews = list(review_queue(request.user))
    for review in reviews:
        review.thumb = thumbnail_html(review.version, size=120)
        review.previous = (
            AssetVersion.objects.filter(asset=review.version.asset, number__lt=review.version.number)
            .order_by("-number").first()
        )
    context = {
        **admin_site.each_context(request),
        "title": "Review queue",
        "reviews": reviews,
        "actions": REVIEW_ACTIONS,
    }
    return TemplateResponse(request, "admin/dam/review_queue.html", context)


def _decide(request: HttpRequest):
    action = request.POST.get("action", "")
    if action not in REVIEW_ACTIONS:
        messages.error(request, "Choose approve, request changes or reject.")
        return HttpResponseRedirect(reverse("admin:dam_review_queue"))
    comment = request.POST.get("comment", "").strip()
    done, failed = 0, []
    for value in request.POST.getlist("version"):
        version = AssetVersion.objects.filter(pk=value).select_related("asset").first()
        if version is None:
            continue
        revision = request.POST.get(f"revision-{version.pk}")
        try:
            transition(
                version=version, action=action, actor=request.user, comment=comment,
                expected_revision=int(revision) if revision and revision.isdigit() else None,
            )
            done += 1
        except DamError as exc:
            failed.append(exc.message)
    if done:
        messages.success(request, f"{REVIEW_ACTIONS[action]}: {done} version(s).")
    for message in failed:
        messages.error(request, message)
    return HttpResponseRedirect(reverse("admin:dam_review_queue"))


def compare_view(request: HttpRequest, version_id: int, *, admin_site):
    version = get_object_or_404(AssetVersion.objects.select_related("asset__collection"), pk=version_id)
    if not user_can(request.user, CollectionPermission.Action.VIEW, version.asset.collection):
        raise Http404("No such version.")
    previous = (
        AssetVersion.objects.filter(asset=version.asset, number__lt=version.number).order_by("-number").first()
    )
    context = {
        **admin_site.each_context(request),
        "title": f"{version.asset.title}: v{version.number} against v{previous.number}" if previous else str(version),
        "version": version,
        "previous": previous,
        "version_img": thumbnail_html(version, size=480),
        "previous_img": thumbnail_html(previous, size=480) if previous else "",
        "trail": ReviewTransition.objects.filter(version__asset=version.asset).select_related("version"),
    }
    return TemplateResponse(request, "admin/dam/review_compare.html", context)


@admin.register(ReviewTransition)
class ReviewTransitionAdmin(admin.ModelAdmin):
    list_display = ["created_at", "version", "action", "from_state", "to_state", "step_name", "actor_name", "sha_short"]
    list_filter = ["action", "to_state"]
    search_fields = ["version__asset__title", "actor_name", "sha256", "comment"]
    list_select_related = ["version__asset"]

    @admin.display(description="sha256")
    def sha_short(self, obj: ReviewTransition) -> str:
        return obj.sha256[:12]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
