from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path("admin/", admin.site.urls),
    path("dam/", include("dam.urls")),
    path("", include("provenance.urls")),
    # After provenance: its api/v1/provenance/verify/ must not fall into the API's catch-all 404.
    path("api/v1/", include("dam.api.urls")),
]
