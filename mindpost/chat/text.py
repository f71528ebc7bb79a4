"""Words that carry meaning in a question or an answer, for keyword search and citation matching.

Normalisation is the blind index's own (mindpost.notes.blind_index.words: casefold, accents
folded, runs of letters and digits), so a word hashed here matches the hash stored for it.
"""

from __future__ import annotations

from functools import cache

from mindpost.notes import blind_index

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
