from django.urls import path

from mindpost.chat import api

app_name = "chat"

# Conversation ids are parsed by the views (so a malformed id is a 400 with a code, an
# unknown one a 404). `brain-dumps/chat/` cannot clash with note routes: those take uuids.
urlpatterns = [
    path("brain-dumps/chat/", api.BrainDumpChatView.as_view(), name="brain-dump-chat"),
    path("chat/conversations/", api.ConversationCollectionView.as_view(), name="conversations"),
    path("chat/conversations/<str:conversation_id>/", api.ConversationDetailView.as_view(), name="conversation"),
    path(
        "chat/conversations/<str:conversation_id>/messages/",
        api.ConversationMessagesView.as_view(),
        name="conversation-messages",
    ),
]
