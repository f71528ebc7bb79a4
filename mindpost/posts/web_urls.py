"""Session-authenticated OAuth pages, mounted at /settings/connections/ by config/urls.py."""

from django.urls import path

from mindpost.posts import web_views

urlpatterns = [
    path("<slug:network>/connect/", web_views.connect, name="posts_connection_connect"),
    path("<slug:network>/callback/", web_views.callback, name="posts_connection_callback"),
    path("<slug:network>/confirm/", web_views.confirm, name="posts_connection_confirm"),
    path("<slug:network>/disconnect/", web_views.disconnect, name="posts_connection_disconnect"),
]
