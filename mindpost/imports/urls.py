from django.urls import path

from mindpost.imports import api

app_name = "imports"

urlpatterns = [
    path("imports/", api.ImportCollectionView.as_view(), name="list"),
    path("imports/<uuid:pk>/", api.ImportDetailView.as_view(), name="detail"),
]
