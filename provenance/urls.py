"""Mount with ``path("", include("provenance.urls"))``: the verify endpoint and the C2PA API."""

from django.urls import path

from provenance import views

app_name = "provenance"

urlpatterns = [
    path("api/v1/provenance/verify/", views.verify_view, name="verify"),
    path("c2pa/matches/byBinding", views.matches_by_binding, name="sbr-by-binding"),
    path("c2pa/matches/byContent", views.matches_by_content, name="sbr-by-content"),
    path("c2pa/manifests/<path:manifest_id>", views.manifest_by_id, name="sbr-manifest"),
    path("c2pa/services/supportedAlgorithms", views.supported_algorithms, name="sbr-algorithms"),
]
