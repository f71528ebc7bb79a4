from django.urls import path

from mindpost.notes import api

app_name = "notes"

# `settings/` is listed before the detail route, and ids use the uuid converter, so fixed
# words (settings, chat) never resolve as note ids and malformed ids are a plain 404.
urlpatterns = [
    path("brain-dumps/", api.NoteCollectionView.as_view(), name="list"),
    path("brain-dumps/settings/", api.NoteSettingsView.as_view(), name="settings"),
    path("brain-dumps/<uuid:pk>/", api.NoteDetailView.as_view(), name="detail"),
    path("brain-dumps/<uuid:pk>/retry/", api.NoteRetryView.as_view(), name="retry"),
    path("brain-dumps/<uuid:pk>/recording/", api.NoteRecordingView.as_view(), name="recording"),
    path("search/", api.SearchView.as_view(), name="search"),
]
