"""`manage.py reembed`: bring every passage vector up to the configured embedding model.

Works in batches, each committed on its own, and only ever selects passages whose
embedding_model differs from the current one, so an interrupted run simply resumes
where it stopped when started again.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from tqdm import tqdm

from mindpost.ai import get_embedder
from mindpost.ai.types import AIError
from mindpost.notes import services
from mindpost.notes.models import EMBEDDING_DIMENSIONS, Passage


class Command(BaseCommand):
    help = "Re-embed passages whose embedding_model differs from the configured embedder (resumable)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--batch-size", type=int, default=64, help="Passages per embedding call and commit.")
        parser.add_argument(
            "--keywords",
            action="store_true",
            help="Also rebuild the blind keyword index of every passage (after SEARCH_INDEX_KEY changed).",
        )
        parser.add_argument("--no-progress", action="store_true", help="Do not draw a progress bar.")

    def handle(self, *args: Any, batch_size: int, keywords: bool, no_progress: bool, **options: Any) -> None:
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        embedder = get_embedder()
        model = embedder.model_name
        stale = Passage.objects.exclude(embedding_model=model)
        total = stale.count()
        done = 0
        last_id = 0
        with tqdm(total=total, unit="passage", desc="re-embedding", disable=no_progress or None) as bar:
            while True:
                batch = list(stale.filter(pk__gt=last_id).order_by("pk").only("id", "text")[:batch_size])
                if not batch:
                    break
                try:
                    vectors = embedder.embed_passages([passage.text for passage in batch])
                except AIError as exc:
                    raise CommandError(f"Embedding failed after {done} passages ({exc}); run again to resume.") from exc
                if len(vectors) != len(batch) or any(len(v) != EMBEDDING_DIMENSIONS for v in vectors):
                    raise CommandError("The embedder returned the wrong number or size of vectors.")
                with transaction.atomic():
                    for passage, vector in zip(batch, vectors, strict=True):
                        Passage.objects.filter(pk=passage.pk).update(embedding=vector, embedding_model=model)
                last_id = batch[-1].pk
                done += len(batch)
                bar.update(len(batch))
        self.stdout.write(self.style.SUCCESS(f"Re-embedded {done} passages with {model}."))

        if keywords:
            ids = list(Passage.objects.order_by("pk").values_list("pk", flat=True))
            rebuilt = 0
            with tqdm(total=len(ids), unit="passage", desc="keyword index", disable=no_progress or None) as bar:
                for start in range(0, len(ids), batch_size):
                    with transaction.atomic():
                        rebuilt += services.passages_set_keywords(passage_ids=ids[start : start + batch_size])
                    bar.update(min(batch_size, len(ids) - start))
            self.stdout.write(self.style.SUCCESS(f"Rebuilt the keyword index of {rebuilt} passages."))
