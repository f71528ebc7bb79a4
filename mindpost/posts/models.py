"""Posts, their images and publish attempts; connections to networks and OAuth states.

Networks are identified by their slug ("x", "linkedin"); there are no DB choices for
them, so adding a network module needs no migration.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from mindpost.core import userdata
from mindpost.core.fields import EncryptedJSONField, EncryptedTextField
from mindpost.posts.networks.base import Profile


class PostStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SCHEDULED = "scheduled", "Scheduled"
    PUBLISHING = "publishing", "Publishing"
    PUBLISHED = "published", "Published"
    FAILED = "failed", "Failed"


class PostFormat(models.TextChoices):
    SINGLE = "single", "Single post"
    THREAD = "thread", "Thread"


class Post(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="posts")
    notes = models.ManyToManyField("notes.Note", blank=True, related_name="posts")
    network = models.CharField(max_length=32, default="x")
    format = models.CharField(max_length=16, choices=PostFormat.choices, default=PostFormat.SINGLE)
    # The text is encrypted at rest, so the database can't filter or sort by it.
    content = EncryptedTextField()
    # Thread posts exactly as they will be published (numbered); empty for single posts.
    parts = EncryptedJSONField(default=list, blank=True)
    status = models.CharField(max_length=16, choices=PostStatus.choices, default=PostStatus.DRAFT)
    scheduled_at = models.DateTimeField(null=True, blank=True)
    # Every (re)schedule, retry or cancel rotates this; a queued job acts only if it still matches.
    job_token = models.UUIDField(null=True, blank=True, editable=False)
    next_retry_at = models.DateTimeField(null=True, blank=True)
    retry_count = models.PositiveSmallIntegerField(default=0)
    # Set while a process is talking to the network; an expired lease means that process died.
    lease_until = models.DateTimeField(null=True, blank=True)
    # Whether this post holds one PUBLISHES unit that a final failure must give back.
    holds_publish_unit = models.BooleanField(default=False)

    # The network's id of the (first) published item: the reference `post_id`.
    # NULL rather than "" so that the unique constraint ignores unpublished posts.
    post_id = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    post_url = models.URLField(max_length=500, blank=True, default="")
    # Ids of every published part, in order (threads resume from here after a failure).
    external_ids = models.JSONField(default=list, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    failure_code = models.CharField(max_length=64, blank=True, default="")
    failure_detail = models.CharField(max_length=500, blank=True, default="")

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    modified_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-created_at",)
        indexes = (
            models.Index(fields=("user", "-created_at"), name="post_user_created"),
            models.Index(fields=("status", "lease_until"), name="post_status_lease"),
        )
        constraints = (
            models.UniqueConstraint(
                fields=("network", "post_id"), condition=models.Q(post_id__isnull=False), name="post_unique_external_id"
            ),
        )

    def __str__(self) -> str:
        return f"Post {self.id} ({self.status})"

    @property
    def texts(self) -> list[str]:
        """What gets published, one entry per network item."""
        if self.format == PostFormat.THREAD and self.parts:
            return [str(part) for part in self.parts]
        return [self.content]

    @property
    def is_editable(self) -> bool:
        return self.status in (PostStatus.DRAFT, PostStatus.SCHEDULED, PostStatus.FAILED)


def _image_path(instance: PostImage, filename: str) -> str:
    extension = {"PNG": "png", "JPEG": "jpg", "GIF": "gif", "WEBP": "webp"}.get(instance.image_format, "bin")
    return userdata.user_file_path(
        instance.post.user_id, "posts", str(instance.post_id), f"{uuid.uuid4().hex[:12]}.{extension}"
    )


class PostImage(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="images")
    image = models.FileField(upload_to=_image_path, max_length=500)
    image_format = models.CharField(max_length=8)  # Pillow's name: PNG, JPEG, GIF, WEBP
    content_type = models.CharField(max_length=32)
    size = models.PositiveIntegerField()
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("created_at", "id")

    def __str__(self) -> str:
        return f"Image {self.id} of post {self.post_id}"


class AttemptOutcome(models.TextChoices):
    PENDING = "pending", "Pending"  # sent or about to be sent; nothing heard back yet
    SUCCEEDED = "succeeded", "Succeeded"
    FOUND = "found", "Found already published"
    UNCERTAIN = "uncertain", "Outcome unknown"
    RATE_LIMITED = "rate_limited", "Rate limited"
    FAILED = "failed", "Failed"


class DeliveryStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    PUBLISHING = "publishing", "Publishing"
    PUBLISHED = "published", "Published"
    FAILED = "failed", "Failed"


class Delivery(models.Model):
    """A cross-posted post's trip to one network (posts/crosspost.py): its own text fitted to that
    network, its own lease, retries and job token, so a retry after a partial failure sends only
    what is missing, and each network gets the post exactly once."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="deliveries")
    network = models.CharField(max_length=32)
    position = models.PositiveSmallIntegerField(default=0)  # the order the user listed the networks in
    connection = models.ForeignKey("Connection", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.QUEUED)
    # What this network gets, one entry per item (a thread on X, one post on LinkedIn); fitted again
    # at each claim until the first part is out, then frozen (a thread resumes from external_ids).
    parts = EncryptedJSONField(default=list, blank=True)
    job_token = models.UUIDField(null=True, blank=True, editable=False)
    lease_until = models.DateTimeField(null=True, blank=True)
    next_retry_at = models.DateTimeField(null=True, blank=True)
    retry_count = models.PositiveSmallIntegerField(default=0)
    attempts = models.PositiveSmallIntegerField(default=0)  # requests sent (each part counts)
    holds_publish_unit = models.BooleanField(default=False)
    external_ids = models.JSONField(default=list, blank=True)
    remote_id = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001 (NULL: unique when set)
    remote_url = models.URLField(max_length=500, blank=True, default="")
    error_code = models.CharField(max_length=64, blank=True, default="")
    error_detail = models.CharField(max_length=500, blank=True, default="")
    published_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    modified_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("position", "created_at")
        indexes = (models.Index(fields=("status", "lease_until"), name="delivery_status_lease"),)
        constraints = (
            models.UniqueConstraint(fields=("post", "network"), name="delivery_unique_post_network"),
            models.UniqueConstraint(
                fields=("network", "remote_id"),
                condition=models.Q(remote_id__isnull=False),
                name="delivery_unique_remote",
            ),
        )

    def __str__(self) -> str:
        return f"Delivery of {self.post_id} to {self.network} ({self.status})"


class PublishAttempt(models.Model):
    """One try at publishing one part of a post; a pending or uncertain row means
    "maybe published": the next try looks it up on the network before posting again."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="attempts")
    # Set for cross-posts: the attempt belongs to that network's delivery.
    delivery = models.ForeignKey(
        Delivery, null=True, blank=True, on_delete=models.CASCADE, related_name="publish_attempts"
    )
    network = models.CharField(max_length=32)
    part_index = models.PositiveSmallIntegerField(default=0)
    outcome = models.CharField(max_length=16, choices=AttemptOutcome.choices, default=AttemptOutcome.PENDING)
    external_id = models.CharField(max_length=255, blank=True, default="")
    error_code = models.CharField(max_length=64, blank=True, default="")
    error_detail = models.CharField(max_length=500, blank=True, default="")
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("started_at",)
        indexes = (models.Index(fields=("post", "part_index"), name="attempt_post_part"),)

    def __str__(self) -> str:
        return f"Attempt {self.part_index} of {self.post_id}: {self.outcome}"


class Connection(models.Model):
    """A user's authorisation to publish on one network. Tokens are encrypted at rest."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="post_connections")
    network = models.CharField(max_length=32)
    external_user_id = models.CharField(max_length=255)
    username = models.CharField(max_length=255, blank=True, default="")
    name = models.CharField(max_length=255, blank=True, default="")
    verified = models.BooleanField(default=False)
    char_limit = models.PositiveIntegerField(default=280)
    access_token = EncryptedTextField()
    refresh_token = EncryptedTextField(blank=True, default="")
    # Absolute expiry times: saving the row for any other reason can't extend them.
    access_expires_at = models.DateTimeField(null=True, blank=True)
    refresh_expires_at = models.DateTimeField(null=True, blank=True)
    scope = models.CharField(max_length=500, blank=True, default="")
    token_type = models.CharField(max_length=32, blank=True, default="bearer")
    needs_reauth = models.BooleanField(default=False)
    reauth_reason = models.CharField(max_length=300, blank=True, default="")
    # The server this account lives on (Mastodon instance, Bluesky service); "" for X and LinkedIn.
    base_url = models.CharField(max_length=255, blank=True, default="")
    connected_at = models.DateTimeField(auto_now_add=True)
    refreshed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("network",)
        constraints = (models.UniqueConstraint(fields=("user", "network"), name="connection_unique_user_network"),)

    def __str__(self) -> str:
        return f"{self.network} connection of {self.user_id} (@{self.username})"

    @property
    def access_valid(self) -> bool:
        return not self.needs_reauth and (self.access_expires_at is None or self.access_expires_at > timezone.now())

    def profile(self) -> Profile:
        return Profile(
            external_user_id=self.external_user_id,
            username=self.username,
            name=self.name,
            verified=self.verified,
            char_limit=self.char_limit,
            base_url=self.base_url,
        )


class OAuthClient(models.TextChoices):
    WEB = "web", "Web"
    MOBILE = "mobile", "Mobile"


class OAuthState(models.Model):
    """One authorisation in flight: single use, expires after OAUTH_STATE_TTL (10 minutes).

    Two kinds, by who started it:
    - a signed-in browser page: `browser_nonce_hash` is set and the callback must come back
      to that same browser session (same user, nonce in its session);
    - the API (bearer token, e.g. the phone): the callback has no session, so the tokens wait
      here (encrypted) until the person confirms on an interstitial page naming both accounts.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    network = models.CharField(max_length=32)
    state = models.CharField(max_length=128, unique=True)
    code_verifier = EncryptedTextField()
    # The Mastodon instance the flow is for ("" for single-server networks).
    base_url = models.CharField(max_length=255, blank=True, default="")
    client = models.CharField(max_length=8, choices=OAuthClient.choices, default=OAuthClient.WEB)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    # sha256 of the nonce kept in the starting browser's session; "" for API-started flows.
    browser_nonce_hash = models.CharField(max_length=64, blank=True, default="")
    # API-started flows between the callback and the confirmation page's POST. The token
    # set (JSON) never leaves the server; the page carries only a random secret whose
    # sha256 is stored here.
    pending_tokens = EncryptedTextField(blank=True, default="")
    pending_profile = models.JSONField(default=dict, blank=True)
    confirm_token_hash = models.CharField(max_length=64, blank=True, default="", db_index=True)
    confirm_expires_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)  # linked or cancelled

    class Meta:
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return f"OAuth state for {self.network} ({self.user_id})"


class MastodonApp(models.Model):
    """The OAuth app MindPost registered on one Mastodon instance (POST /api/v1/apps), reused by
    every user of that instance. Registered again if our callback URL changes (SITE_URL moved)."""

    instance_url = models.CharField(max_length=255)
    redirect_uri = models.CharField(max_length=500)
    client_id = models.CharField(max_length=255)
    client_secret = EncryptedTextField()
    scopes = models.CharField(max_length=255)
    # From the instance's /.well-known/oauth-authorization-server (Mastodon 4.3+): S256 offered.
    supports_pkce = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = (
            models.UniqueConstraint(fields=("instance_url", "redirect_uri"), name="mastodonapp_unique_instance"),
        )

    def __str__(self) -> str:
        return f"Mastodon app on {self.instance_url}"


class DraftStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class DraftRequest(models.Model):
    """One "write drafts from these notes" request, run as a job (posts.generate_drafts).

    The variants appear here one by one as the model writes them; they are the user's content,
    so they are encrypted at rest like the posts themselves."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="draft_requests")
    note_ids = models.JSONField(default=list)  # UUID strings, in the order given
    # min_chars, max_chars, format, network: the inputs of generate_from_dumps.
    options = models.JSONField(default=dict)
    status = models.CharField(max_length=16, choices=DraftStatus.choices, default=DraftStatus.QUEUED)
    stage = models.CharField(max_length=120, blank=True, default="")
    variants = EncryptedJSONField(default=list, blank=True)
    char_limit = models.PositiveIntegerField(null=True, blank=True)
    model = models.CharField(max_length=120, blank=True, default="")
    error_code = models.CharField(max_length=64, blank=True, default="")
    error_detail = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)
        indexes = (models.Index(fields=("user", "-created_at"), name="draftreq_user_created"),)

    def __str__(self) -> str:
        return f"Draft request {self.id} ({self.status})"

    @property
    def finished(self) -> bool:
        return self.status in (DraftStatus.DONE, DraftStatus.FAILED)


class ReminderStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    CANCELLED = "cancelled", "Cancelled"


class Reminder(models.Model):
    """A scheduled post that MindPost can't publish itself (nothing connected, or by choice): at
    `remind_at` the person gets an email (and a chat message on a linked channel) with the text,
    "open in X / LinkedIn / Bluesky" links and a link to the post (posts/reminders.py)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    post = models.OneToOneField(Post, on_delete=models.CASCADE, related_name="reminder")
    status = models.CharField(max_length=16, choices=ReminderStatus.choices, default=ReminderStatus.QUEUED)
    remind_at = models.DateTimeField()
    # Every (re)schedule or cancel rotates this; a queued job acts only if it still matches.
    job_token = models.UUIDField(null=True, blank=True, editable=False)
    sent_at = models.DateTimeField(null=True, blank=True)
    email_sent = models.BooleanField(default=False)
    channels_sent = models.JSONField(default=list, blank=True)  # channel slugs the message went to
    created_at = models.DateTimeField(auto_now_add=True)
    modified_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = (models.Index(fields=("status", "remind_at"), name="reminder_status_at"),)

    def __str__(self) -> str:
        return f"Reminder for {self.post_id} ({self.status})"
