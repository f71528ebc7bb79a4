"""The thread editor: parts without numbering, counts by the network's rule, per-part errors."""

from __future__ import annotations

import pytest

from mindpost.posts.models import PostFormat, PostStatus
from tests.factories import PostFactory

pytestmark = pytest.mark.django_db


def _thread(user, parts: list[str], **extra):
    return PostFactory.create(user=user, format=PostFormat.THREAD, parts=parts, content="\n\n".join(parts), **extra)


def test_post_page_shows_each_part_without_numbering(web, user) -> None:
    post = _thread(user, ["1/2 First part.", "2/2 Second part."])
    html = web.get(f"/posts/{post.pk}/").content.decode()
    assert 'id="thread-editor"' in html
    assert ">First part.</textarea>" in html
    assert ">Second part.</textarea>" in html
    assert "1/2 First part." in html  # the preview, numbered as it will be published
    assert "thread_editor.js" in html


def test_single_posts_and_networks_without_threads_get_no_editor(web, user) -> None:
    single = PostFactory.create(user=user)
    assert 'id="thread-editor"' not in web.get(f"/posts/{single.pk}/").content.decode()
    linkedin = PostFactory.create(user=user, network="linkedin", format=PostFormat.SINGLE)
    assert 'id="thread-editor"' not in web.get(f"/posts/{linkedin.pk}/").content.decode()


def test_count_uses_the_network_rules_with_numbering(web, user) -> None:
    post = _thread(user, ["1/2 a", "2/2 b"])
    response = web.post(f"/posts/{post.pk}/thread/count/", {"parts": ["Hello 👋", "x" * 280]})
    body = response.json()
    assert body["limit"] == 280
    # "1/2 Hello 👋": 4 for the numbering, 6, and 2 for the emoji (X's weighting).
    assert body["counts"] == [12, 284]
    assert body["over"] == [False, True]
    assert body["published"][0] == "1/2 Hello 👋"


def test_save_renumbers_the_parts_through_the_update_service(web, user) -> None:
    post = _thread(user, ["1/2 One. Two.", "2/2 Three."])
    response = web.post(
        f"/posts/{post.pk}/thread/", {"parts": ["One.", "Two.", "Three."]}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 204
    assert "?thread=saved" in response["HX-Redirect"]
    post.refresh_from_db()
    assert post.parts == ["1/3 One.", "2/3 Two.", "3/3 Three."]
    assert post.format == PostFormat.THREAD


def test_errors_are_shown_next_to_each_part_and_nothing_is_saved(web, user) -> None:
    post = _thread(user, ["1/2 Keep.", "2/2 Me."])
    response = web.post(
        f"/posts/{post.pk}/thread/", {"parts": ["Fine.", "y" * 400, "  "]}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "2 parts need a change before saving." in html
    assert 'id="part-2-error" data-part-error>404 of 280: shorten this part or split it.' in html
    assert 'id="part-3-error" data-part-error>Write something here, or remove this part.' in html
    assert 'id="part-1-error" data-part-error hidden>' in html
    assert "thread_editor.js" not in html
    post.refresh_from_db()
    assert post.parts == ["1/2 Keep.", "2/2 Me."]


def test_too_many_parts_are_refused(web, user) -> None:
    post = _thread(user, ["1/2 a", "2/2 b"])
    response = web.post(
        f"/posts/{post.pk}/thread/", {"parts": [f"p{n}" for n in range(26)]}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 400
    assert "at most 25 parts" in response.content.decode()


def test_another_users_thread_is_404(web, make_user) -> None:
    bob = make_user("bob@example.com")
    theirs = _thread(bob, ["1/2 a", "2/2 b"])
    assert web.post(f"/posts/{theirs.pk}/thread/", {"parts": ["x"]}).status_code == 404
    assert web.post(f"/posts/{theirs.pk}/thread/count/", {"parts": ["x"]}).status_code == 404
    theirs.refresh_from_db()
    assert theirs.parts == ["1/2 a", "2/2 b"]


def test_published_thread_cannot_be_saved(web, user) -> None:
    post = _thread(user, ["1/2 a", "2/2 b"], status=PostStatus.PUBLISHED)
    response = web.post(f"/posts/{post.pk}/thread/", {"parts": ["x", "y"]}, headers={"HX-Request": "true"})
    assert response.status_code == 409
    assert 'data-code="post_read_only"' in response.content.decode()
