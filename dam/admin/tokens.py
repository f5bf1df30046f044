"""API tokens in the admin: the secret is shown once, on the page after creating the token."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.utils import timezone

from dam.models import ApiToken, TokenScope


class ApiTokenForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(choices=TokenScope.choices, widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = ApiToken
        fields = ["name", "user", "scopes", "collections", "expires_at"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    form = ApiTokenForm
    list_display = ["name", "user", "prefix", "scope_list", "created_at", "last_used_at", "expires_at", "active"]
    list_filter = ["revoked_at"]
    search_fields = ["name", "prefix", "user__username"]
    readonly_fields = ["prefix", "created_at", "last_used_at", "revoked_at"]
    filter_horizontal = ["collections"]
    actions = ["revoke"]

    @admin.display(description="scopes")
    def scope_list(self, token: ApiToken) -> str:
        return ", ".join(token.scopes)

    @admin.display(boolean=True)
    def active(self, token: ApiToken) -> bool:
        return token.is_active

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["name", "user", "scopes", "collections", "expires_at"]
        return ["name", "user", "prefix", "scopes", "collections", "expires_at", "created_at", "last_used_at",
                "revoked_at"]

    def save_model(self, request, obj: ApiToken, form, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        issued = ApiToken.issue(
            name=obj.name, user=obj.user, scopes=form.cleaned_data["scopes"],
            collections=form.cleaned_data["collections"], expires_at=obj.expires_at,
        )
        # The admin saves m2m after this; point the form's instance at the issued row.
        obj.pk, obj.prefix, obj.secret_hash = issued.token.pk, issued.token.prefix, issued.token.secret_hash
        obj.created_at, obj.scopes = issued.token.created_at, issued.token.scopes
        messages.warning(
            request, f"Copy this token now; it will not be shown again: {issued.plaintext}"
        )

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset) -> None:
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, f"Revoked {count} token(s).", messages.SUCCESS)
