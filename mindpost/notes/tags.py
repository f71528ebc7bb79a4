"""Tags for a note: the hashtags the user said or wrote, plus a few key topics.

No model call: hashtags come from a pattern ("#travel", "hashtag travel", "hash tag
travel"), topics from stopword-filtered word frequency with a small boost for names
(capitalised mid-sentence). Tokenising is Unicode-aware, so any script works; stopword
lists cover the languages Whisper users speak most, and other languages still get
topics (only their function words are not filtered).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

MAX_TOPICS = 5
MAX_TAG_CHARS = 40
_MIN_TOPIC_CHARS = 3

# "#travel" written, or "hashtag travel" / "hash tag, travel" spoken (Whisper adds punctuation).
# A tag needs at least one letter, as on X: "#12" is an issue number, "#2026goals" a tag.
_WRITTEN = re.compile(r"(?<![\w#])#(?=[\w-]*[^\W\d_])([^\W_][\w-]*)")
_SPOKEN = re.compile(r"\bhash[\s-]?tag[\s,.:;!?\"'-]*(?=[\w-]*[^\W\d_])([^\W_][\w-]*)", re.IGNORECASE)
# A word starts with a letter; inner apostrophes (straight or curly) and dashes are kept.
_WORD = re.compile(r"[^\W\d_][\w'\u2019-]*[^\W_]|[^\W\d_]")
_SENTENCE_END = re.compile(r"[.!?\u3002\uff01\uff1f]\s*$")
_CURLY_APOSTROPHE = "\u2019"

_STOPWORDS_TEXT = """
a about above after again against all almost also although always am among an and another any anybody anyone
anything anyway are around as at away back be because been before being below between both but by can cannot
could did do does doing done down during each either else enough even ever every everything few for from
further get gets getting go goes going gone gonna got had has have having he her here hers herself him himself
his how however i if in into is isn't it its itself just kind know let like lot lots made make many may maybe
me might mine more most much must my myself need never no nor not nothing now of off often oh ok okay on once
one only or other others our ours ourselves out over own please pretty probably quite rather really right said
same say says see she should so some somebody someone something sometimes still such sure take than that
that's the their theirs them themselves then there there's these they thing things think this those though
through thus to today together too um uh under until up upon us use used very want wanna was way we well were
what whatever when where whether which while who whom whose why will with within without would yeah yes yet
you your yours yourself yourselves i'm i've i'll i'd you're we're they're it's don't doesn't didn't can't
won't wouldn't shouldn't couldn't let's actually basically anyway hmm mhm yep nope hey hi hello also tomorrow
yesterday week day time
aber alle allem allen aller alles als also am an ander andere anderem anderen anderer anderes auch auf aus bei
bin bis bist da damit dann das dass dein deine dem den der des dich die dies diese dieser dieses dir doch dort
du durch ein eine einem einen einer eines er es etwas euch euer für gegen gewesen hab habe haben hat hatte
hier hin hinter ich ihm ihn ihnen ihr ihre im in indem ins ist jede jedem jeden jeder jetzt kann kein keine
können machen man manche mein meine mich mir mit muss nach nicht nichts noch nun nur ob oder ohne schon sehr
sein seine selbst sich sie sind so solche soll sondern sonst über um und uns unser unter viel vom von vor war
waren warst was weg weil weiter welche wenn wer werde werden wie wieder will wir wird wo wollen wurde würde
zu zum zur zwar zwischen
al algo algunas algunos ante antes como con contra cual cuando de del desde donde dos el ella ellas ellos en
entre era eres es esa esas ese eso esos esta estaba estado estar estas este esto estos estoy fue fueron ha
hace hay la las le les lo los más me mi mis mucho muy nada ni no nos nosotros o os otra otro para pero poco
por porque que quien se sea ser si sin sobre son su sus también te tengo tiene todo todos tu tus un una uno
unos y ya yo
au aux avec ce ces cette dans de des du elle elles en est et eux il ils je la le les leur lui ma mais me même
mes moi mon ne nos notre nous on ou où par pas pour qu que qui sa se ses son sur ta te tes toi ton tu un une
vos votre vous c'est j'ai très été être avoir fait comme aussi bien tout tous plus
che chi con da dal dei del della delle di e gli ha ho il in io la le lei lo loro lui ma mi mio ne nel non per
più quella quello questa questo se si sono su sua suo ti tu tutto un una uno
ao aos as com da das de dela dele do dos e ela ele eles em entre era essa esse está estou eu foi isso isto já
mais mas me meu minha muito na nas não nem no nos o os ou para pela pelo por quando que se sem ser seu sua são
também te tem um uma você
aan als bij dan dat de deze die dit door een en er het hij hoe ik in is je maar met mij naar niet nog of om ook
op over te tot uit van voor was wat we wel wij zal ze zich zij zijn
"""
STOPWORDS = frozenset(_STOPWORDS_TEXT.split()) | frozenset({"hashtag", "hash", "tag"})


def normalise_tag(tag: str) -> str:
    """The canonical form of a tag: no '#', lowercase, NFC, trimmed of dashes, at most 40 chars."""
    tag = unicodedata.normalize("NFC", tag.strip().lstrip("#").casefold()).strip("-'" + _CURLY_APOSTROPHE)
    return tag[:MAX_TAG_CHARS]


def hashtags(text: str) -> list[str]:
    """Hashtags written ("#travel") or spoken ("hashtag travel"), in order, without repeats."""
    found: list[tuple[int, str]] = []
    for pattern in (_WRITTEN, _SPOKEN):
        found.extend((match.start(), match.group(1)) for match in pattern.finditer(text))
    out: dict[str, None] = {}
    for _, raw in sorted(found):
        tag = normalise_tag(raw)
        if tag:
            out.setdefault(tag, None)
    return list(out)


def _tokens(text: str) -> list[tuple[str, bool]]:
    """(word, capitalised mid-sentence) pairs; hashtag markers are dropped first."""
    text = _SPOKEN.sub(" ", text)
    text = _WRITTEN.sub(" ", text)
    tokens: list[tuple[str, bool]] = []
    for match in _WORD.finditer(text):
        word = match.group()
        before = text[: match.start()].rstrip()
        sentence_start = not before or bool(_SENTENCE_END.search(before))
        tokens.append((word, word[0].isupper() and not sentence_start))
    return tokens


def topics(text: str, *, limit: int = MAX_TOPICS, exclude: frozenset[str] = frozenset()) -> list[str]:
    """Up to `limit` key words: most frequent non-stopwords, names weighted up, ties by first use."""
    counts: Counter[str] = Counter()
    names: set[str] = set()
    first_seen: dict[str, int] = {}
    for index, (raw, is_name) in enumerate(_tokens(text)):
        word = normalise_tag(raw.replace(_CURLY_APOSTROPHE, "'"))
        if len(word) < _MIN_TOPIC_CHARS or word in STOPWORDS or word in exclude:
            continue
        # Whole sentences in unspaced scripts (Chinese, Japanese, Thai) are not topics.
        if len(word) > 24:
            continue
        counts[word] += 1
        first_seen.setdefault(word, index)
        if is_name:
            names.add(word)

    def score(word: str) -> tuple[float, int]:
        return (counts[word] * (1.5 if word in names else 1.0), -first_seen[word])

    return sorted(counts, key=score, reverse=True)[:limit]


def extract_tags(text: str) -> list[str]:
    """The note's tags: its hashtags first, then up to five topics that are not already tags."""
    found = hashtags(text)
    return found + topics(text, exclude=frozenset(found))
