"""Webhook subscriptions over the API: CRUD, each subscription's delivery log, and redelivery.

Subscriptions see events of every collection, so managing them takes Django's model permissions on
``WebhookSubscription`` (staff-level), not just a collection grant; a token also needs ``write``.
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, permissions, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from dam.api.base import BrandForgeViewSet, SparseFieldsSerializer
from dam.api.errors import Conflict
from dam.api.pagination import AssetCursorPagination
from dam.api.permissions import TokenScopePermission
from dam.models import TokenScope, WebhookAttempt, WebhookDelivery, WebhookSubscription
from dam.models.webhooks import EVENT_TYPES
from dam.webhooks.services import DeliveryInProgress, redeliver, subscribe, unsubscribe, update_subscription

_PERMS = {
    "GET": "view", "HEAD": "view", "OPTIONS": "view", "POST": "add", "PUT": "change", "PATCH": "change",
    "DELETE": "delete",
}


class WebhookModelPermission(permissions.BasePermission):
    def has_permission(self, request, view) -> bool:
        verb = "change" if getattr(view, "action", None) == "redeliver" else _PERMS.get(request.method, "change")
        return request.user.has_perm(f"dam.{verb}_webhooksubscription")


class SubscriptionSerializer(SparseFieldsSerializer, serializers.ModelSerializer):
    event_types = serializers.ListField(child=serializers.ChoiceField(choices=list(EVENT_TYPES)), allow_empty=False)
    secret = serializers.CharField(
        required=False, write_only=True, max_length=200,
        help_text="whsec_ followed by base64; made for you when left out (returned once, on creation).",
    )

    class Meta:
        model = WebhookSubscription
        fields = ["id", "url", "description", "event_types", "is_active", "secret", "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]


class AttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookAttempt
        fields = ["started_at", "target_ip", "status_code", "response_ms", "succeeded", "error", "response_excerpt"]


class DeliverySerializer(serializers.ModelSerializer):
    webhook_id = serializers.CharField(source="message_id", read_only=True)
    attempt_log = AttemptSerializer(many=True, read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id", "webhook_id", "event_type", "payload", "state", "attempts", "next_attempt_at", "last_status_code",
            "last_error", "delivered_at", "created_at", "attempt_log",
        ]


class WebhookSubscriptionViewSet(
    BrandForgeViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin
):
    serializer_class = SubscriptionSerializer
    permission_classes = [TokenScopePermission, WebhookModelPermission]
    pagination_class = AssetCursorPagination  # newest first, for subscriptions and deliveries alike
    queryset = WebhookSubscription.objects.all()
    required_scope = TokenScope.WRITE

    def create(self, request, *args, **kwargs) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        subscription = subscribe(**serializer.validated_data, user=request.user)
        data = {**self.get_serializer(subscription).data, "secret": subscription.secret}
        return Response(data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs) -> Response:
        subscription = self.get_object()
        serializer = self.get_serializer(subscription, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        self.check_if_match(subscription)
        subscription = update_subscription(subscription=subscription, **serializer.validated_data)
        return self.conditional_response(subscription, self.get_serializer(subscription).data)

    def perform_destroy(self, instance: WebhookSubscription) -> None:
        self.check_if_match(instance)
        unsubscribe(subscription=instance)

    @extend_schema(responses=DeliverySerializer(many=True))
    @action(detail=True, methods=["get"])
    def deliveries(self, request, pk=None) -> Response:
        subscription = self.get_object()
        page = self.paginate_queryset(subscription.deliveries.prefetch_related("attempt_log"))
        return self.get_paginated_response(DeliverySerializer(page, many=True).data)

    @extend_schema(request=None, responses={202: DeliverySerializer})
    @action(detail=True, methods=["post"], url_path=r"deliveries/(?P<delivery_id>[0-9a-fA-F-]{32,36})/redeliver")
    def redeliver(self, request, pk=None, delivery_id=None) -> Response:
        subscription = self.get_object()
        delivery = get_object_or_404(subscription.deliveries, pk=delivery_id)
        try:
            delivery = redeliver(delivery=delivery)
        except DeliveryInProgress as exc:
            raise Conflict(exc.message, code=exc.code) from exc
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)
