"""Small text helpers for notes: titles, the words that carry meaning, and excerpts.

Content words use the blind index's own normalisation (blind_index.words: casefold, accents
folded, runs of letters and digits), so a word hashed for a query matches the hash stored for it.
Search results and chat citations are cut and matched with the same words (chat reaches them
through notes.selectors).
"""

from __future__ import annotations

import re
from functools import cache

from mindpost.notes import blind_index

TITLE_MAX_CHARS = 80
EXCERPT_CHARS = 280
_FIRST_SENTENCE = re.compile(r"^(.+?[.!?\u3002\uff01\uff1f])(?:\s|$)", re.DOTALL)
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]*")


def derive_title(text: str, *, max_chars: int = TITLE_MAX_CHARS) -> str:
    """A short title: the first sentence, cut at a word boundary with an ellipsis if too long."""
    text = " ".join(text.split())
    if not text:
        return ""
    match = _FIRST_SENTENCE.match(text)
    sentence = match.group(1) if match else text
    sentence = sentence.rstrip(".\u3002")
    if len(sentence) <= max_chars:
        return sentence
    cut = sentence[: max_chars - 1]
    if " " in cut[max_chars // 2 :]:
        cut = cut[: cut.rfind(" ")]
    return cut.rstrip(" ,;:-") + "…"


# Function words of the languages people most often dictate in, plus the filler of questions
# about one's own notes ("remind me what I said about..."). They match nearly every passage,
# so searching for them only adds noise.
_STOPWORDS = """
a about above after again against all also am an and any are aren't as at be because been before being below
between both but by can could did do does doing down during each else ever few for from further had has have
having he her here hers herself him himself his how i if in into is it its itself just let me more most my
myself no nor not now of off on once only or other our ours ourselves out over own same she should so some such
than that the their theirs them themselves then there these they this those through to too under until up very
was we were what when where which while who whom why will with would you your yours yourself yourselves
s t d ll m re ve didn doesn isn wasn weren wouldn shouldn couldn hasn haven hadn
remind tell say said says saying note notes noted mention mentioned mentions talk talked talking told recall
remember know think thought something anything thing things someone anyone somebody anybody please again
ok okay yeah hey hi also really just like get got go going went
der die das den dem des ein eine einer eines einem einen und oder aber ich du er sie es wir ihr mich mir dich
dir sich mein meine meinen meinem meiner nicht kein keine ist sind waren bin bist habe hast haben hatte
wie was wer wo wann warum mit von zu zum zur im in an am auf aus bei fur uber unter nach vor um als auch noch
schon nur so da dass wenn ob gesagt sagen erzahl erzahle erinnere erinnern
el la los las un una unos unas y o pero yo tu el ella nosotros ellos me mi mis te se lo le les que de del al
en con por para sin sobre es fue era estoy esta estan he ha han hay como cuando donde quien que cual muy
mas ya no si dije dijo decir acuerdo recuerda
le la les un une des et ou mais je tu il elle nous vous ils elles me moi mon ma mes te toi ton ta se de du au
aux en dans par pour sur avec sans est sont etait as a ont que qui quoi ou quand pas ne dit
il lo gli uno e ma io tu lui lei noi voi loro mi ti si di da con per su tra fra che chi cosa quando
non piu detto
o as um uma uns umas e ou mas eu ele ela nos eles elas meu minha de do da dos das em no na nos nas por para
com sem que quem como quando onde nao mais disse
"""
STOPWORDS = frozenset(blind_index.normalise(word) for word in _STOPWORDS.split())


@cache
def _is_stopword(word: str) -> bool:
    return word in STOPWORDS or (len(word) == 1 and not word.isdigit())


def content_words(text: str) -> list[str]:
    """The normalised words of `text` without function words, in order (repeats kept)."""
    return [word for word in blind_index.words(text) if not _is_stopword(word)]


def distinct_content_words(text: str, *, limit: int = 32) -> list[str]:
    """Distinct content words in order of first appearance, at most `limit` of them."""
    seen: dict[str, None] = {}
    for word in content_words(text):
        seen.setdefault(word, None)
        if len(seen) >= limit:
            break
    return list(seen)


def _stem(word: str) -> str:
    """A crude stem so "boats"/"boat" and "builds"/"build" meet; digits are left alone."""
    if word.isdigit() or len(word) <= 3:
        return word
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not word.endswith("ss"):
            return word[: -len(suffix)]
    return word


def match_terms(text: str) -> set[str]:
    """Stemmed content words: what an answer, a question and a passage are matched on."""
    return {_stem(word) for word in content_words(text)}


def excerpt(passage: str, *, answer: str = "", limit: int = EXCERPT_CHARS) -> str:
    """The part of a passage that best supports the answer (whole sentences), at most `limit` chars."""
    text = " ".join(passage.split())
    if len(text) <= limit:
        return text
    sentences = [m.group(0).strip() for m in _SENTENCE.finditer(text) if m.group(0).strip()]
    if answer and sentences:
        target = match_terms(answer)
        best = max(range(len(sentences)), key=lambda i: (len(match_terms(sentences[i]) & target), -i))
        chosen = sentences[best]
        # Grow around the best sentence while it fits.
        lo, hi = best, best
        while True:
            grown = False
            if hi + 1 < len(sentences) and len(chosen) + 1 + len(sentences[hi + 1]) <= limit:
                hi += 1
                chosen = chosen + " " + sentences[hi]
                grown = True
            if lo > 0 and len(chosen) + 1 + len(sentences[lo - 1]) <= limit:
                lo -= 1
                chosen = sentences[lo] + " " + chosen
                grown = True
            if not grown:
                break
        if len(chosen) <= limit:
            return chosen
        text = chosen
    cut = text[: limit - 1]
    return (cut.rsplit(" ", 1)[0] if " " in cut else cut) + "…"
