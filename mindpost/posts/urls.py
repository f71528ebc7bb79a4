from django.urls import path

from mindpost.posts import api

urlpatterns = [
    path("posts/", api.PostListView.as_view(), name="posts_list"),
    path("posts/generate_from_dumps/", api.GenerateView.as_view(), name="posts_generate"),
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
    path("connections/<slug:network>/", api.ConnectionDetailView.as_view(), name="connections_detail"),
    path("connections/<slug:network>/connect/", api.ConnectionConnectView.as_view(), name="connections_connect"),
]
