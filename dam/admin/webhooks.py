"""Webhook subscriptions and the delivery log, with redelivery by hand."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from dam.exceptions import DamError
from dam.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from dam.models.webhooks import EVENT_TYPES
from dam.webhooks.services import (
    WebhookError,
    clean_subscription_fields,
    redeliver,
    subscribe,
    update_subscription,
)


class SubscriptionForm(forms.ModelForm):
    url = forms.URLField(max_length=2000, assume_scheme="https")
    event_types = forms.MultipleChoiceField(
        choices=[(name, f"{name} — {label}") for name, label in EVENT_TYPES.items()],
        widget=forms.CheckboxSelectMultiple,
    )
    secret = forms.CharField(
        required=False, max_length=200,
        help_text="whsec_ followed by base64. Leave empty to have one made (new subscriptions only).",
    )

    class Meta:
        model = WebhookSubscription
        fields = ["url", "description", "event_types", "is_active", "secret"]

    def clean(self):
        cleaned = super().clean()
        try:
            clean_subscription_fields(
                url=cleaned.get("url"), event_types=cleaned.get("event_types"), secret=cleaned.get("secret") or None
            )
        except WebhookError as exc:
            raise forms.ValidationError(exc.message) from exc
        return cleaned


class AttemptInline(admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    fields = ["started_at", "target_ip", "status_code", "response_ms", "succeeded", "error", "response_excerpt"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(admin.ModelAdmin):
    form = SubscriptionForm
    list_display = ["url", "description", "event_list", "is_active", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["url", "description"]

    @admin.display(description="Events")
    def event_list(self, obj: WebhookSubscription) -> str:
        return ", ".join(obj.event_types)

    def save_model(self, request: HttpRequest, obj: WebhookSubscription, form: SubscriptionForm, change: bool) -> None:
        fields = {name: form.cleaned_data[name] for name in ("url", "description", "event_types", "is_active")}
        if form.cleaned_data.get("secret"):
            fields["secret"] = form.cleaned_data["secret"]
        if change:
            saved = update_subscription(subscription=WebhookSubscription.objects.get(pk=obj.pk), **fields)
        else:
            saved = subscribe(**fields, user=request.user)
        obj.pk, obj.secret = saved.pk, saved.secret


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["created_at", "event_type", "subscription", "state", "attempts", "last_status_code", "delivered_at"]
    list_filter = ["state", "event_type", "subscription"]
    readonly_fields = [
        "message_id", "subscription", "event_type", "payload", "state", "attempts", "next_attempt_at",
        "last_status_code", "last_error", "delivered_at", "created_at",
    ]
    fields = readonly_fields
    inlines = [AttemptInline]
    actions = ["redeliver_selected"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description="Redeliver selected deliveries", permissions=["redeliver"])
    def redeliver_selected(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        done, failed = 0, []
        for delivery in queryset:
            try:
                redeliver(delivery=delivery)
                done += 1
            except DamError as exc:
                failed.append(exc.message)
        if done:
            messages.success(request, f"Queued {done} delivery(ies) again.")
        for message in failed:
            messages.error(request, message)

    def has_redeliver_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("dam.change_webhookdelivery")
