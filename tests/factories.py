"""The one factory set of the test suite (factory_boy): users, notes, plans, posts, conversations.

Two kinds of notes:
- `NoteFactory` writes the row directly (no passages): for list, detail, filter and post-generation
  tests that only need a note in a given state.
- `IndexedNoteFactory` goes through the notes services (`note_create_from_text` + `note_process`),
  so the note is tagged, chunked and embedded with whatever EMBED_BACKEND the test set (the search
  and chat tests use the real local multilingual-e5): for anything that searches passages.

Fixtures in tests/conftest.py (`make_user`, `user`, `plans`, `note_factory`) are thin wrappers over these.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import factory
from allauth.account.models import EmailAddress
from django.conf import settings
from factory.django import DjangoModelFactory

from mindpost.accounts.models import User
from mindpost.billing.models import Plan
from mindpost.billing.plans_seed import SEED_PLANS
from mindpost.chat.models import Conversation, Message, MessageRole
from mindpost.notes import blind_index, storage
from mindpost.notes import services as note_services
from mindpost.notes.models import Note, NoteKind, NoteStatus
from mindpost.posts.models import Post, PostStatus

PASSWORD = "a-Long-and-unusual-passphrase-42"
NOTE_TEXT = "Met Nikos in Athens. He builds boats."


class UserFactory(DjangoModelFactory[User]):
    """A user who can sign in: password set, email address recorded (verified unless told otherwise)."""

    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"person{n + 1}@example.com")
    password = PASSWORD
    verified = True

    @classmethod
    def _create(cls, model_class: type[User], *args: Any, **kwargs: Any) -> User:
        verified = kwargs.pop("verified")
        user = model_class.objects.create_user(*args, **kwargs)
        EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=verified)
        return user


def _set_created_at(note: Note, created_at: datetime | None) -> None:
    # created_at is auto_now_add: only an update after the insert can move it.
    if created_at is not None:
        Note.objects.filter(pk=note.pk).update(created_at=created_at)
        note.refresh_from_db()


class NoteFactory(DjangoModelFactory[Note]):
    """A note row in a given state, without passages (ready text note by default).

    `text` fills the transcription and the title (its first sentence); `tags` also sets the blind
    index; `audio` (bytes) stores a WAV file for it in MEDIA_ROOT as the upload would; `created_at`
    back-dates it.
    """

    class Meta:
        model = Note
        skip_postgeneration_save = True

    class Params:
        text = NOTE_TEXT

    user = factory.SubFactory(UserFactory)
    kind = NoteKind.TEXT
    status = NoteStatus.READY
    transcription = factory.SelfAttribute("text")
    title = factory.LazyAttribute(lambda o: o.text.split(".")[0])
    tags: Any = None
    audio: Any = None
    created_at: Any = None

    @classmethod
    def _create(cls, model_class: type[Note], *args: Any, **kwargs: Any) -> Note:
        tags: list[str] = kwargs.pop("tags") or []
        audio: bytes | None = kwargs.pop("audio")
        created_at: datetime | None = kwargs.pop("created_at")
        kwargs.pop("media", None)  # accepted for old call sites: files always go to MEDIA_ROOT
        note = model_class(**kwargs)
        note.tags = tags
        note.tag_hashes = [blind_index.tag_hash(tag) for tag in tags]
        note.save()
        if audio is not None:
            name = storage.audio_path(user_id=note.user_id, note_id=note.pk, audio_format="wav")
            path = Path(settings.MEDIA_ROOT) / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(audio)
            note.audio, note.audio_format = name, "wav"
            note.save(update_fields=["audio", "audio_format"])
        _set_created_at(note, created_at)
        return note


class IndexedNoteFactory(factory.Factory[Note]):
    """A text note made by the notes services and processed (tags, passages, embeddings): ready."""

    class Meta:
        model = Note

    user = factory.SubFactory(UserFactory)
    text = NOTE_TEXT
    created_at: Any = None

    @classmethod
    def _create(cls, model_class: type[Note], *args: Any, **kwargs: Any) -> Note:
        user, text, created_at = kwargs["user"], kwargs["text"], kwargs["created_at"]
        note = note_services.note_create_from_text(user=user, text=text, idempotency_key=None).note
        note_services.note_process(note_id=note.pk, final_attempt=True)
        note.refresh_from_db()
        assert note.status == NoteStatus.READY, note.failure_reason
        _set_created_at(note, created_at)
        return note

    @classmethod
    def _build(cls, model_class: type[Note], *args: Any, **kwargs: Any) -> Note:
        raise TypeError("IndexedNoteFactory only creates: its notes exist once the services have run.")


def indexed_note(user: User, text: str, *, created_at: datetime | None = None) -> Note:
    """Positional shorthand for IndexedNoteFactory (the `note_factory` fixture)."""
    return IndexedNoteFactory.create(user=user, text=text, created_at=created_at)


class PlanFactory(DjangoModelFactory[Plan]):
    """A billing plan; an existing plan with the same code is returned as is."""

    class Meta:
        model = Plan
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"plan{n}")
    name = factory.LazyAttribute(lambda o: o.code.title())


def seed_plans() -> dict[str, Plan]:
    """The plans of the seed migration, by code (transactional tests flush the migration's rows)."""
    return {values["code"]: PlanFactory.create(**values) for values in SEED_PLANS}


class PostFactory(DjangoModelFactory[Post]):
    """A draft single post on X."""

    class Meta:
        model = Post
        skip_postgeneration_save = True

    user = factory.SubFactory(UserFactory)
    network = "x"
    content = "A draft about the harbour in Nafplio."
    status = PostStatus.DRAFT

    @factory.post_generation
    def notes(self, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create and extracted:
            self.notes.set(extracted)


class ConversationFactory(DjangoModelFactory[Conversation]):
    class Meta:
        model = Conversation

    user = factory.SubFactory(UserFactory)
    title = "Who did I meet in Greece?"


class MessageFactory(DjangoModelFactory[Message]):
    """A message appended to its conversation (positions count from 0)."""

    class Meta:
        model = Message

    conversation = factory.SubFactory(ConversationFactory)
    position = factory.LazyAttribute(lambda o: o.conversation.messages.count())
    role = MessageRole.USER
    content = "Who did I meet in Greece?"


from mindpost.notes.models import ActionItem  # noqa: E402  (added with the to-dos; kept apart from the imports above)


class ActionItemFactory(DjangoModelFactory[ActionItem]):
    """A to-do as enrichment would have found it in `note` (open, no due date unless told)."""

    class Meta:
        model = ActionItem

    note = factory.SubFactory(NoteFactory)
    user = factory.SelfAttribute("note.user")
    position = factory.Sequence(lambda n: n)
    text = "Call the dentist to move the appointment"
    due_date = None
    start_seconds = None
