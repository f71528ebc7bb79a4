"""The posts API: reference paths and fields, validation with codes, images, isolation."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from mindpost.core import userdata
from mindpost.posts.models import Post, PostImage
from tests.posts.conftest import api_for, connect_x, image_bytes, upload

pytestmark = pytest.mark.django_db


def test_draft_crud_with_reference_fields(user, make_note, media) -> None:
    note = make_note(user)
    client = api_for(user)
    created = client.post("/api/posts/", {"content": "Hello harbour", "brain_dump_ids": [str(note.pk)]}, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    for field in ("id", "content", "created_at", "status", "post_id", "post_type", "images", "brain_dump_ids"):
        assert field in body
    assert body["status"] == "draft"
    assert body["post_type"] == "twitter"
    assert body["post_id"] is None
    assert body["brain_dump_ids"] == [str(note.pk)]
    assert body["character_count"] == 13
    assert body["image_processing_notes"] == ["No images attached."]

    post_id = body["id"]
    assert client.get(f"/api/posts/{post_id}/").json()["content"] == "Hello harbour"
    listing = client.get("/api/posts/").json()
    assert listing["count"] == 1
    assert listing["results"][0]["id"] == post_id

    patched = client.patch(f"/api/posts/{post_id}/", {"content": "Hello again"}, format="json")
    assert patched.status_code == 200
    assert patched.json()["content"] == "Hello again"
    put = client.put(f"/api/posts/{post_id}/", {"content": "Third version", "post_type": "twitter"}, format="json")
    assert put.json()["content"] == "Third version"

    assert client.delete(f"/api/posts/{post_id}/").status_code == 204
    assert client.get(f"/api/posts/{post_id}/").status_code == 404


def test_mass_assignment_is_impossible(user, make_user, media) -> None:
    other = make_user()
    client = api_for(user)
    sneaky = {
        "content": "mine",
        "user": str(other.pk),
        "user_id": str(other.pk),
        "post_id": "1234567890",
        "post_url": "https://x.com/evil",
        "id": str(uuid.uuid4()),
        "published_at": timezone.now().isoformat(),
    }
    created = client.post("/api/posts/", sneaky, format="json")
    assert created.status_code == 201
    post = Post.objects.get(pk=created.json()["id"])
    assert post.user == user
    assert post.post_id is None
    assert post.post_url == ""
    assert str(post.pk) != sneaky["id"]

    client.patch(f"/api/posts/{post.pk}/", {**sneaky, "content": "edited"}, format="json")
    post.refresh_from_db()
    assert (post.user, post.post_id, post.content) == (user, None, "edited")
    # Status can't be set to a state the server owns.
    for status in ("failed", "publishing"):
        response = client.patch(f"/api/posts/{post.pk}/", {"status": status}, format="json")
        assert response.status_code == 400
        assert response.json()["fields"]["status"]
    post.refresh_from_db()
    assert post.status == "draft"


def test_setting_published_without_a_connection_publishes_nothing(user, media) -> None:
    client = api_for(user)
    post_id = client.post("/api/posts/", {"content": "draft"}, format="json").json()["id"]
    response = client.patch(f"/api/posts/{post_id}/", {"status": "published"}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "not_connected"
    assert response.json()["post"]["status"] == "draft"
    assert Post.objects.get(pk=post_id).status == "draft"


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({}, "content_required"),
        ({"content": "   "}, "content_required"),
        ({"content": "x", "post_type": "myspace"}, "unknown_post_type"),
        ({"content": "x", "status": "failed"}, "invalid"),
        ({"content": "x", "brain_dump_ids": ["not-a-uuid"]}, "invalid"),
        ({"content": "x", "brain_dump_ids": [str(uuid.uuid4())]}, "notes_not_found"),
        ({"content": "x", "format": "carousel"}, "invalid"),
        ({"content": "x", "status": "scheduled"}, "scheduled_at_required"),
        ({"content": "x", "scheduled_at": "2031-01-01T09:00:00"}, "invalid"),
        ({"content": "x", "scheduled_at": "2001-01-01T09:00:00Z"}, "scheduled_at_in_past"),
        ({"content": "x", "scheduled_at": "yesterday"}, "invalid"),
        ({"content": "x", "post_type": "linkedin", "format": "thread"}, "thread_not_supported"),
        ({"content": "x" * 100_001}, "invalid"),
    ],
)
def test_bad_input_gets_a_code_and_writes_nothing(user, media, payload, code) -> None:
    response = api_for(user).post("/api/posts/", payload, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == code
    assert not Post.objects.exists()


def test_naive_time_is_refused_with_a_field_message(user, media) -> None:
    response = api_for(user).post("/api/posts/", {"content": "x", "scheduled_at": "2031-01-01T09:00:00"})
    assert "timezone" in response.json()["fields"]["scheduled_at"][0]


def test_malformed_json_is_a_400(user) -> None:
    response = api_for(user).generic("POST", "/api/posts/", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_request"


def test_images_are_checked_by_content_and_stored_per_user(user, media) -> None:
    client = api_for(user)
    files = [upload("a.png", image_bytes("PNG")), upload("b.jpg", image_bytes("JPEG"), "image/jpeg")]
    response = client.post("/api/posts/", {"content": "pics", "media_files": files}, format="multipart")
    assert response.status_code == 201, response.content
    body = response.json()
    assert len(body["images"]) == 2
    assert body["image_processing_notes"] == ["2 image(s) attached."]
    assert [image["content_type"] for image in body["images"]] == ["image/png", "image/jpeg"]
    for image in PostImage.objects.all():
        assert str(image.image.name).startswith(userdata.user_file_path(user.pk, "posts", body["id"]))
        assert default_storage.exists(str(image.image.name))

    fetched = client.get(body["images"][0]["image"])
    assert fetched.status_code == 200
    assert fetched["Content-Type"] == "image/png"
    assert b"".join(fetched.streaming_content).startswith(b"\x89PNG")  # type: ignore[attr-defined]

    names = [str(image.image.name) for image in PostImage.objects.all()]
    from django.test import TestCase

    with TestCase.captureOnCommitCallbacks(execute=True):
        assert client.delete(f"/api/posts/{body['id']}/").status_code == 204
    assert not any(default_storage.exists(name) for name in names)
    assert not PostImage.objects.exists()


@pytest.mark.parametrize(
    ("files", "code"),
    [
        ([("fake.png", b"this is not an image at all", "image/png")], "invalid_image"),
        ([("empty.png", b"", "image/png")], "invalid_image"),
        ([("pic.bmp", image_bytes("BMP"), "image/bmp")], "unsupported_image_type"),
        ([("pic.tiff", image_bytes("TIFF"), "image/png")], "unsupported_image_type"),
        ([(f"{i}.png", image_bytes("PNG"), "image/png") for i in range(5)], "too_many_images"),
    ],
)
def test_bad_images_are_refused(user, media, files, code) -> None:
    uploads = [upload(name, content, content_type) for name, content, content_type in files]
    response = api_for(user).post("/api/posts/", {"content": "pics", "media_files": uploads}, format="multipart")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == code
    assert not Post.objects.exists()
    assert list(userdata.iter_user_files(user.pk)) == []


def test_oversized_image_is_refused(user, media, settings) -> None:
    settings.X_MAX_IMAGE_BYTES = 1000
    big = image_bytes("PNG", size=(400, 400), color="blue")
    big = big + b"\0" * max(0, 1001 - len(big))
    response = api_for(user).post(
        "/api/posts/", {"content": "pics", "media_files": [upload("big.png", big)]}, format="multipart"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "image_too_large"


def test_image_limit_counts_existing_images(user, media) -> None:
    client = api_for(user)
    first = [upload(f"{i}.png", image_bytes()) for i in range(3)]
    post_id = client.post("/api/posts/", {"content": "p", "media_files": first}, format="multipart").json()["id"]
    more = [upload("x.png", image_bytes()), upload("y.png", image_bytes())]
    response = client.patch(f"/api/posts/{post_id}/", {"media_files": more}, format="multipart")
    assert response.json()["code"] == "too_many_images"
    assert PostImage.objects.count() == 3
    image_id = PostImage.objects.values_list("pk", flat=True)[0]
    assert client.delete(f"/api/posts/{post_id}/images/{image_id}/").status_code == 204
    again = [upload("z.png", image_bytes())]
    assert client.patch(f"/api/posts/{post_id}/", {"media_files": again}, format="multipart").status_code == 200
    assert PostImage.objects.count() == 3


def test_multipart_brain_dump_ids_in_any_reference_form(user, make_note, media) -> None:
    a, b = make_note(user), make_note(user, "second")
    client = api_for(user)
    for value in ([str(a.pk), str(b.pk)], f"{a.pk},{b.pk}", f'["{a.pk}", "{b.pk}"]'):
        response = client.post("/api/posts/", {"content": "x", "brain_dump_ids": value}, format="multipart")
        assert response.status_code == 201, response.content
        assert sorted(response.json()["brain_dump_ids"]) == sorted([str(a.pk), str(b.pk)])


def test_thread_from_content_is_split_into_numbered_posts(user, media) -> None:
    text = " ".join(f"Point {i} is a complete sentence that says something." for i in range(20))
    body = api_for(user).post("/api/posts/", {"content": text, "format": "thread"}, format="json").json()
    assert body["format"] == "thread"
    assert len(body["parts"]) > 1
    assert body["parts"][0].startswith(f"1/{len(body['parts'])} ")
    assert body["character_count"] <= 280


def test_every_endpoint_is_per_user(user, make_user, make_note, media, fake_x, x_user) -> None:
    other = make_user()
    mine = api_for(user)
    theirs = api_for(other)
    connect_x(other, fake_x)
    note = make_note(user)
    post = mine.post(
        "/api/posts/",
        {"content": "private", "media_files": [upload("a.png", image_bytes())]},
        format="multipart",
    ).json()
    image_id = post["images"][0]["id"]
    base = f"/api/posts/{post['id']}/"

    assert theirs.get("/api/posts/").json()["count"] == 0
    assert theirs.get(base).status_code == 404
    assert theirs.patch(base, {"content": "stolen"}, format="json").status_code == 404
    assert theirs.put(base, {"content": "stolen"}, format="json").status_code == 404
    assert theirs.delete(base).status_code == 404
    assert theirs.post(f"{base}publish/").status_code == 404
    assert theirs.get(f"{base}images/{image_id}/").status_code == 404
    assert theirs.delete(f"{base}images/{image_id}/").status_code == 404
    # Someone else's note can't be linked or used for generation.
    linked = theirs.post("/api/posts/", {"content": "x", "brain_dump_ids": [str(note.pk)]}, format="json")
    assert linked.json()["code"] == "notes_not_found"
    generated = theirs.post("/api/posts/generate_from_dumps/", {"brain_dump_uuids": [str(note.pk)]}, format="json")
    assert generated.status_code == 400
    assert generated.json()["code"] == "notes_not_found"

    assert Post.objects.get(pk=post["id"]).content == "private"
    assert PostImage.objects.filter(pk=image_id).exists()
    assert fake_x.calls("POST", "/2/tweets") == []


def test_endpoints_need_authentication(api) -> None:
    some = uuid.uuid4()
    for method, path in [
        ("get", "/api/posts/"),
        ("post", "/api/posts/"),
        ("get", f"/api/posts/{some}/"),
        ("post", f"/api/posts/{some}/publish/"),
        ("post", "/api/posts/generate_from_dumps/"),
        ("get", "/api/connections/"),
    ]:
        assert getattr(api, method)(path).status_code == 401


def test_schedule_reschedule_and_cancel(user, media, fake_x, x_user, django_capture_on_commit_callbacks) -> None:
    from procrastinate.contrib.django.models import ProcrastinateJob

    connect_x(user, fake_x)
    client = api_for(user)
    when = (timezone.now() + timedelta(hours=2)).isoformat()
    with django_capture_on_commit_callbacks(execute=True):
        created = client.post("/api/posts/", {"content": "later", "scheduled_at": when}, format="json")
    body = created.json()
    assert created.status_code == 201
    assert body["status"] == "scheduled"
    jobs = ProcrastinateJob.objects.filter(task_name="posts.publish")
    assert jobs.count() == 1
    assert jobs.get().args["post_id"] == body["id"]

    later = (timezone.now() + timedelta(hours=5)).isoformat()
    with django_capture_on_commit_callbacks(execute=True):
        moved = client.patch(f"/api/posts/{body['id']}/", {"scheduled_at": later}, format="json")
    assert moved.json()["status"] == "scheduled"
    assert jobs.count() == 2  # the first job is now stale: its token no longer matches
    tokens = {job.args["token"] for job in jobs}
    assert str(Post.objects.get(pk=body["id"]).job_token) in tokens

    with django_capture_on_commit_callbacks(execute=True):
        edited = client.patch(f"/api/posts/{body['id']}/", {"content": "later, edited"}, format="json")
    assert edited.json()["status"] == "scheduled"
    assert jobs.count() == 2  # an edit keeps the one live job, which reads the content when it runs

    cancelled = client.patch(f"/api/posts/{body['id']}/", {"status": "draft"}, format="json").json()
    assert cancelled["status"] == "draft"
    assert cancelled["scheduled_at"] is None
    assert Post.objects.get(pk=body["id"]).job_token is None


def test_scheduling_checks_what_publishing_would(user, media, fake_x, x_user) -> None:
    client = api_for(user)
    when = (timezone.now() + timedelta(hours=2)).isoformat()
    response = client.post("/api/posts/", {"content": "later", "scheduled_at": when}, format="json")
    # Nothing connected: not refused any more, it becomes a reminder (tests/posts/test_reminders.py).
    assert response.status_code == 201
    assert response.json()["reminder"]["status"] == "queued"
    connect_x(user, fake_x)
    too_long = client.post("/api/posts/", {"content": "x" * 281, "scheduled_at": when}, format="json")
    assert too_long.json()["code"] == "post_too_long"
    assert too_long.json()["char_limit"] == 280
    far = (timezone.now() + timedelta(days=400)).isoformat()
    assert client.post("/api/posts/", {"content": "x", "scheduled_at": far}, format="json").json()["code"] == (
        "scheduled_at_too_far"
    )
