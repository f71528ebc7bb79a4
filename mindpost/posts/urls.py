from django.urls import path

from mindpost.posts import api, api_calendar, api_networks

urlpatterns = [
    path("posts/", api.PostListView.as_view(), name="posts_list"),
    path("posts/generate_from_dumps/", api.GenerateView.as_view(), name="posts_generate"),
    path("posts/calendar/", api_calendar.PostCalendarView.as_view(), name="posts_calendar"),
    path("posts/drafts/", api.DraftRequestListView.as_view(), name="posts_drafts"),
    path("posts/drafts/<uuid:pk>/", api.DraftRequestDetailView.as_view(), name="posts_drafts_detail"),
    path("posts/<uuid:pk>/", api.PostDetailView.as_view(), name="posts_detail"),
    path("posts/<uuid:pk>/publish/", api.PostPublishView.as_view(), name="posts_publish"),
    path("posts/<uuid:pk>/images/<uuid:image_id>/", api.PostImageView.as_view(), name="posts_image_detail"),
    # The reference's X connection paths (mobile client), plus connect for the mobile OAuth flow.
    path("twitter-connection/", api.TwitterConnectionListView.as_view(), name="twitter_connection_list"),
    path("twitter-connection/status/", api.TwitterStatusView.as_view(), name="twitter_connection_status"),
    path("twitter-connection/disconnect/", api.TwitterDisconnectView.as_view(), name="twitter_connection_disconnect"),
    path("twitter-connection/connect/", api.TwitterConnectView.as_view(), name="twitter_connection_connect"),
    # Every network, by slug ("x", "linkedin").
    path("connections/", api.ConnectionListView.as_view(), name="connections_list"),
    # Networks connected with a form (before the generic <slug> connect path, which they replace).
    path("connections/bluesky/connect/", api_networks.BlueskyConnectView.as_view(), name="connections_bluesky"),
    path("connections/mastodon/connect/", api_networks.MastodonConnectView.as_view(), name="connections_mastodon"),
    path("connections/<slug:network>/", api.ConnectionDetailView.as_view(), name="connections_detail"),
    path("connections/<slug:network>/connect/", api.ConnectionConnectView.as_view(), name="connections_connect"),
]
