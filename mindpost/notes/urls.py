from django.urls import path

from mindpost.notes import api
from mindpost.notes.api_action_items import ActionItemCollectionView, ActionItemDetailView
from mindpost.notes.api_rewrites import NoteRewriteView, NoteVersionCollectionView, NoteVersionDetailView
from mindpost.notes.api_similar import SimilarNotesView
from mindpost.notes.api_tags import TagCollectionView, TagRenameView
from mindpost.notes.api_vocabulary import VocabularyReplaceView

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
    path("brain-dumps/<uuid:pk>/rewrite/", NoteRewriteView.as_view(), name="rewrite"),
    path("brain-dumps/<uuid:pk>/versions/", NoteVersionCollectionView.as_view(), name="versions"),
    path("brain-dumps/<uuid:pk>/versions/<uuid:vid>/", NoteVersionDetailView.as_view(), name="version"),
    path("vocabulary/replace/", VocabularyReplaceView.as_view(), name="vocabulary_replace"),
    path("brain-dumps/<uuid:pk>/similar/", SimilarNotesView.as_view(), name="similar"),
    path("tags/", TagCollectionView.as_view(), name="tags"),
    path("tags/rename/", TagRenameView.as_view(), name="tag_rename"),
    path("action-items/", ActionItemCollectionView.as_view(), name="action_items"),
    path("action-items/<uuid:pk>/", ActionItemDetailView.as_view(), name="action_item"),
]
