"""The web app's pages. `urlpatterns` is the "web" namespace at /; the two lists below keep the
reference's paths and names and are mounted by config/urls.py."""

from django.urls import URLPattern, path
from django.views.generic import RedirectView

from mindpost.web.views import billing, calendar, chat, connections, notes, pages, posts, pwa, record, signup
from mindpost.web.views import channels as channel_views
from mindpost.web.views import crosspost as crosspost_views
from mindpost.web.views import imports as import_views
from mindpost.web.views import networks as network_views
from mindpost.web.views import publish_options as publish_option_views
from mindpost.web.views import rewrites as rewrite_views
from mindpost.web.views import tags as tag_views
from mindpost.web.views import threads as thread_views
from mindpost.web.views import todos as todo_views
from mindpost.web.views import vocabulary as vocabulary_views

app_name = "web"

urlpatterns = [
    path("", pages.landing, name="landing"),
    path("record/", record.record_page, name="record"),
    path("record/upload/", record.upload, name="record_upload"),
    path("record/text/", record.text_note, name="record_text"),
    path("record/notes/<uuid:pk>/progress/", record.note_progress, name="record_progress"),
    path("import/", import_views.import_page, name="imports"),
    path("import/<uuid:pk>/progress/", import_views.import_progress, name="imports_progress"),
    path("notes/", notes.notes_page, name="notes"),
    path("notes/<uuid:pk>/", notes.note_detail, name="notes_detail"),
    path("notes/<uuid:pk>/row/", notes.note_row, name="notes_row"),
    path("notes/<uuid:pk>/transcript/", notes.note_transcript, name="notes_transcript"),
    path("notes/<uuid:pk>/retry/", notes.note_retry, name="notes_retry"),
    path("notes/<uuid:pk>/delete/", notes.note_delete, name="notes_delete"),
    path("notes/<uuid:pk>/rewrites/", rewrite_views.note_rewrites, name="notes_rewrites"),
    path("notes/<uuid:pk>/rewrite/", rewrite_views.note_rewrite, name="notes_rewrite"),
    path("notes/<uuid:pk>/versions/<uuid:vid>/", rewrite_views.note_version, name="notes_version"),
    path("notes/<uuid:pk>/versions/<uuid:vid>/delete/", rewrite_views.note_version_delete, name="notes_version_delete"),
    path("notes/<uuid:pk>/fix-name/", vocabulary_views.note_fixname, name="notes_fixname"),
    path("notes/<uuid:pk>/similar/", todo_views.note_similar, name="notes_similar"),
    path("notes/<uuid:pk>/tags/", tag_views.note_tags, name="notes_tags"),
    path("tags/", tag_views.tags_page, name="tags"),
    path("tags/rename/", tag_views.tags_rename, name="tags_rename"),
    path("todos/", todo_views.todos_page, name="todos"),
    path("todos/<uuid:pk>/done/", todo_views.todo_toggle, name="todos_toggle"),
    path("chat/", chat.chat_page, name="chat"),
    path("chat/send/", chat.chat_send, name="chat_send"),
    path("chat/send/plain/", chat.chat_send_plain, name="chat_send_plain"),
    path("chat/<uuid:pk>/", chat.chat_page, name="chat_conversation"),
    path("chat/<uuid:pk>/delete/", chat.chat_delete, name="chat_delete"),
    path("chat/<uuid:pk>/messages/<uuid:message_id>/", chat.chat_message, name="chat_message"),
    path("posts/compose/", posts.compose, name="posts_compose"),
    path("posts/compose/generate/", posts.compose_generate, name="posts_compose_generate"),
    path("posts/compose/count/", posts.compose_count, name="posts_compose_count"),
    path("posts/compose/create/", posts.post_create, name="posts_compose_create"),
    path("posts/compose/options/", publish_option_views.publish_options, name="posts_publish_options"),
    path("posts/", posts.posts_page, name="posts"),
    path("posts/calendar/", calendar.calendar_page, name="posts_calendar"),
    path("posts/calendar/<uuid:pk>/move/", calendar.calendar_move, name="posts_calendar_move"),
    path("posts/<uuid:pk>/", posts.post_detail, name="posts_detail"),
    path("posts/<uuid:pk>/save/", posts.post_save, name="posts_save"),
    path("posts/<uuid:pk>/publish/", posts.post_publish, name="posts_publish"),
    path("posts/<uuid:pk>/crosspost/", crosspost_views.crosspost_submit, name="posts_crosspost"),
    path(
        "posts/<uuid:pk>/crosspost/<slug:network>/retry/", crosspost_views.crosspost_retry, name="posts_crosspost_retry"
    ),
    path("posts/<uuid:pk>/thread/", thread_views.thread_save, name="posts_thread_save"),
    path("posts/<uuid:pk>/thread/count/", thread_views.thread_count, name="posts_thread_count"),
    path("posts/<uuid:pk>/delete/", posts.post_delete, name="posts_delete"),
    path("posts/<uuid:pk>/images/<uuid:image_id>/", posts.post_image, name="posts_image"),
    path("posts/<uuid:pk>/images/<uuid:image_id>/delete/", posts.post_image_delete, name="posts_image_delete"),
    path("signup/resend/", signup.resend_verification, name="signup_resend"),
    path("settings/audio/", pages.settings_audio, name="settings_audio"),
    path("settings/vocabulary/", vocabulary_views.settings_vocabulary, name="settings_vocabulary"),
    path("settings/rewrite-styles/", rewrite_views.settings_rewrite_styles, name="settings_rewrite_styles"),
    path("settings/", pages.settings_page, name="settings"),
    path("settings/channels/", channel_views.settings_channels, name="settings_channels"),
    path("settings/channels/<slug:channel>/code/", channel_views.channel_link_code, name="settings_channel_code"),
    path("settings/channels/<uuid:pk>/unlink/", channel_views.channel_unlink, name="settings_channel_unlink"),
    path("settings/profile/", pages.settings_profile, name="settings_profile"),
    path("settings/export/", pages.account_export, name="settings_export"),
    path("settings/delete/", pages.account_delete, name="settings_delete"),
    path("settings/bluesky/connect/", network_views.bluesky_connect, name="settings_bluesky_connect"),
    path("settings/mastodon/connect/", network_views.mastodon_connect, name="settings_mastodon_connect"),
    path("goodbye/", pages.goodbye, name="goodbye"),
    # The installable app (views/pwa.py): the worker at the root so its scope is the whole site.
    path("manifest.webmanifest", pwa.manifest, name="manifest"),
    path("sw.js", pwa.service_worker, name="service_worker"),
    path("offline/", pwa.offline, name="offline"),
    path("share/", pwa.share, name="share"),
    # The reference's web paths keep working for old bookmarks.
    path("record/brain-dumps/", RedirectView.as_view(pattern_name="web:notes", permanent=True)),
    path("record/brain-dump/<uuid:pk>/", RedirectView.as_view(pattern_name="web:notes_detail", permanent=True)),
    path("record/posts/", RedirectView.as_view(pattern_name="web:posts", permanent=True)),
    path("record/chat/", RedirectView.as_view(pattern_name="web:chat", permanent=True)),
    path("record/settings/", RedirectView.as_view(pattern_name="web:settings", permanent=True)),
]

# At /settings/connections/ (no namespace): the OAuth connect/callback/confirm/disconnect pages.
# The callback's URL is registered with X and LinkedIn, so path and name stay as they are.
connection_urlpatterns: list[URLPattern] = [
    path("<slug:network>/connect/", connections.connect, name="posts_connection_connect"),
    path("<slug:network>/callback/", connections.callback, name="posts_connection_callback"),
    path("<slug:network>/confirm/", connections.confirm, name="posts_connection_confirm"),
    path("<slug:network>/disconnect/", connections.disconnect, name="posts_connection_disconnect"),
]

# At /subscriptions/, in the "billing" namespace next to billing's Stripe webhook route.
subscription_urlpatterns: list[URLPattern] = [
    path("upgrade/", billing.upgrade, name="upgrade"),
    path("checkout/", billing.checkout, name="checkout"),
    path("portal/", billing.portal, name="portal"),
    path("payment-success/", billing.payment_success, name="payment-success"),
    path("payment-cancel/", billing.payment_cancel, name="payment-cancel"),
]
