from django.apps import AppConfig


class PostsConfig(AppConfig):
    name = "mindpost.posts"
    label = "posts"
    verbose_name = "Posts"

    def ready(self) -> None:
        from django.db.models.signals import post_delete

        from mindpost.core import userdata
        from mindpost.posts import exports, services
        from mindpost.posts.models import PostImage

        userdata.register_exporter("posts", exports.export_posts)

        def _delete_file(sender: type, instance: PostImage, **kwargs: object) -> None:
            # Covers every way a row goes: the API, the admin, a cascade from the post.
            services.delete_image_file(name=instance.image.name)

        post_delete.connect(_delete_file, sender=PostImage, dispatch_uid="posts_image_file_cleanup", weak=False)
