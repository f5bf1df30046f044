"""A URLconf for the webhook API tests, until dam/api/urls.py registers the viewset."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from dam.api.webhooks import WebhookSubscriptionViewSet

router = SimpleRouter()
router.register("webhooks", WebhookSubscriptionViewSet, basename="webhook")

urlpatterns = [path("api/v1/", include(router.urls))]
