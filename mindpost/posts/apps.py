from django.apps import AppConfig


class PostsConfig(AppConfig):
    name = "mindpost.posts"
    label = "posts"
