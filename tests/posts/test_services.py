"""The post services with typed inputs: PostChanges, post_schedule / post_unschedule, and
field errors under the services' own parameter names (renamed to wire names by the API)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from procrastinate.contrib.django.models import ProcrastinateJob

from mindpost.core.errors import Conflict, Invalid
from mindpost.posts import services
from mindpost.posts.models import Post, PostStatus
from mindpost.posts.services import PostChanges
from tests.posts.conftest import api_for, connect_x, image_bytes, upload


def test_post_changes_records_what_was_given() -> None:
    nothing = PostChanges.of()
    assert nothing.fields_set == frozenset()
    assert not nothing.schedules
    assert not nothing.unschedules
    assert not nothing.changes_content

    cleared = PostChanges.of(scheduled_at=None, parts=["a", "b"])
    assert cleared.fields_set == {"scheduled_at", "parts"}
    assert cleared.parts == ("a", "b")
    assert cleared.unschedules  # None said on purpose: back to draft
    assert not cleared.schedules
    assert cleared.changes_content

    later = timezone.now() + timedelta(hours=1)
    assert PostChanges.of(scheduled_at=later).schedules
    assert PostChanges.of(status=PostStatus.SCHEDULED).schedules
    # "draft" wins over a time, as it always did on edits.
    both = PostChanges.of(status=PostStatus.DRAFT, scheduled_at=later)
    assert both.unschedules
    with pytest.raises(AttributeError):
        both.content = "frozen"  # type: ignore[misc]


def test_schedule_and_unschedule_services(user, media, fake_x, x_user, django_capture_on_commit_callbacks) -> None:
    connect_x(user, fake_x)
    post = services.post_create(user=user, changes=PostChanges.of(content="a draft"))
    assert post.status == PostStatus.DRAFT
    when = timezone.now() + timedelta(hours=3)

    with django_capture_on_commit_callbacks(execute=True):
        scheduled = services.post_schedule(user=user, post=post, at=when)
    assert scheduled.status == PostStatus.SCHEDULED
    assert scheduled.scheduled_at == when
    job = ProcrastinateJob.objects.get(task_name="posts.publish")
    assert job.args == {"post_id": str(post.pk), "token": str(scheduled.job_token)}

    with pytest.raises(Invalid) as past:
        services.post_schedule(user=user, post=post, at=timezone.now() - timedelta(minutes=1))
    assert past.value.code == "scheduled_at_in_past"
    assert list(past.value.fields) == ["scheduled_at"]

    draft = services.post_unschedule(user=user, post=post)
    assert (draft.status, draft.scheduled_at, draft.job_token) == (PostStatus.DRAFT, None, None)

    Post.objects.filter(pk=post.pk).update(status=PostStatus.PUBLISHED)
    with pytest.raises(Conflict) as published:
        services.post_schedule(user=user, post=post, at=when)
    assert published.value.code == "post_read_only"


def test_services_name_fields_by_parameter_and_the_api_by_wire_name(user, media, make_note) -> None:
    unknown = uuid.uuid4()
    with pytest.raises(Invalid) as raised:
        services.post_create(user=user, changes=PostChanges.of(content="x", note_ids=[unknown]))
    assert raised.value.code == "notes_not_found"
    assert list(raised.value.fields) == ["note_ids"]

    client = api_for(user)
    created = client.post("/api/posts/", {"content": "x", "brain_dump_ids": [str(unknown)]}, format="json")
    assert created.status_code == 400
    assert list(created.json()["fields"]) == ["brain_dump_ids"]

    generated = client.post("/api/posts/generate_from_dumps/", {"brain_dump_uuids": [str(unknown)]}, format="json")
    assert generated.json()["code"] == "notes_not_found"
    assert list(generated.json()["fields"]) == ["brain_dump_uuids"]

    files = [upload(f"{i}.png", image_bytes()) for i in range(5)]
    images = client.post("/api/posts/", {"content": "pics", "media_files": files}, format="multipart")
    assert images.json()["code"] == "too_many_images"
    assert list(images.json()["fields"]) == ["media_files"]
