"""Routes of /api/v1/. Mounted after provenance's URLs so api/v1/provenance/verify/ stays theirs."""

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.routers import SimpleRouter

from dam.api.errors import api_not_found
from dam.api.views.assets import AssetViewSet
from dam.api.views.jobs import JobViewSet
from dam.api.views.library import CollectionViewSet, SyncViewSet, TagViewSet
from dam.api.views.renditions import RenditionViewSet
from dam.api.views.workflow import AssetActionViewSet, AssetAuditViewSet
from dam.api.webhooks import WebhookSubscriptionViewSet

app_name = "dam-api"

router = SimpleRouter()
router.register("assets", AssetViewSet, basename="asset")
router.register("collections", CollectionViewSet, basename="collection")
router.register("tags", TagViewSet, basename="tag")
router.register("webhooks", WebhookSubscriptionViewSet, basename="webhook")
router.register("jobs", JobViewSet, basename="job")

_ASSET = "assets/<uuid:id>"

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="dam-api:schema"), name="docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="dam-api:schema"), name="redoc"),
    path("sync/", SyncViewSet.as_view({"get": "list"}), name="sync"),
    path(f"{_ASSET}/actions/<str:name>/", AssetActionViewSet.as_view({"post": "create"}), name="asset-action"),
    path(f"{_ASSET}/audit/", AssetAuditViewSet.as_view({"get": "list"}), name="asset-audit"),
    re_path(r"^assets/(?P<id>[0-9a-fA-F-]{36})/renditions/(?P<spec>[^/]+)/?$",
            RenditionViewSet.as_view({"get": "retrieve"}), name="asset-rendition"),
    *router.urls,
    # Anything else under /api/v1/ is a problem+json 404, not Django's HTML page.
    re_path(r"^[\s\S]*$", api_not_found),  # [\s\S], not ".": paths with encoded newlines too
]
