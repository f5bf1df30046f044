from django.urls import path

from dam.views import renditions

app_name = "dam"

urlpatterns = [
    path("renditions/<str:token>/", renditions.rendition, name="rendition"),
    path("originals/<int:version_id>/", renditions.original, name="original"),
]
