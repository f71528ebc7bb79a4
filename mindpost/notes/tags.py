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
mañana hoy ayer semana importante bueno buena grande pequeño pequeña nuevo nueva
heute morgen gestern woche neu neue neuen neuer gut gute groß klein kleine wichtig
demain aujourd'hui hier semaine important importante bon bonne grand grande petit petite nouveau nouvelle
domani oggi ieri settimana importante buono grande piccolo nuovo
amanhã hoje ontem semana importante bom boa grande pequeno novo nova
monday tuesday wednesday thursday friday saturday sunday january february march april june july august
september october november december morning evening night tonight
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


# --- Clean tags ---------------------------------------------------------------------------
#
# A tag is stored in one display spelling that is a valid X hashtag: letters, marks, digits and
# "_" only, with at least one letter. X ends a hashtag at "-" or "'", so "#richard-powers" would
# link "#richard" alone; a name or phrase of several words is therefore joined in CamelCase
# ("RichardPowers"): one token, still readable, and screen readers speak CamelCase hashtags
# word by word. Single-word topics are lowercase; names keep their capital ("Maria").
#
# Tags that mean the same share a form (tag_forms): case, accents, "-" and "_", British and
# American spellings and plural/singular are folded, so "Goals"/"goal", "café"/"cafe" and
# "e-mail"/"email" meet. Forms are only compared, never stored, so the rules can change
# without a migration.
#
# Why word lists and suffix rules rather than a lemmatiser: the candidates are few (at most
# ~20 per note) and mostly English nouns; verbs and adjectives are what must go, and a
# lemmatiser (e.g. simplemma) gives lemmas, not parts of speech, so it would still need these
# lists. It would help plural folding in languages these rules do not cover (Russian, Greek,
# Polish...): see docs/api.md "Tags" for the trade-off.

MAX_TAGS = 5
_MAX_PHRASE_WORDS = 3

# Verbs whose inflected forms are never topics ("runs", "moved", "going").
_VERBS_TEXT = """
accept add agree allow answer appear arrive ask bake become begin believe belong bet bite blow book break bring
build burn buy call care carry catch change check choose clean climb close come consider continue cook cost
count cover cross cry cut dance decide deliver describe design die dig discuss do draw dream dress drink drive
drop eat end enjoy enter explain fall feel fight fill find finish fit fix fly follow forget forgive freeze get
give go grow hang happen hate have hear help hide hit hold hope hurt improve include increase join jump keep
kick kill kiss know land last laugh lay lead learn leave lend let lie like listen live look lose love make
manage mean meet mention mind miss move need notice offer open order own paint pass pay pick plan play point
prefer prepare present promise pull push put reach read realise realize receive remember remind rent repeat
reply report rest return ride ring rise run save say see seem sell send serve set shake share shoot shop show
shut sing sit sleep smell smile speak spend stand start stay steal stick stop study suggest swim take talk
teach tell thank think throw touch train travel try turn understand use visit wait wake walk want wash watch
wear win wish wonder work worry write
"""
# Base forms that are (almost) never a topic on their own; "plan", "work", "run" or "call"
# stay possible topics as nouns.
_PURE_VERBS_TEXT = """
accept add agree allow answer appear arrive ask become begin believe belong bring buy carry catch choose come
consider continue decide describe discuss do enjoy enter explain fall feel fill find finish follow forget
forgive get give go happen hate hear help hide hit hold hope hurt improve include join keep kill know lay
lead learn leave lend let lie like listen live look lose love make manage mean meet mention mind miss move
need notice offer open own pass pay pick prefer prepare promise pull push put reach realise realize receive
remember remind repeat reply say see seem sell send serve set shake share show shut sit spend stand start
stay steal stick stop suggest take talk teach tell thank think throw touch try turn understand use wait wake
want wash wear win wish wonder worry write
"""
_IRREGULAR_TEXT = """
was were been am is are went gone did done had has got gotten made took taken came said told gave given
found thought knew known felt left kept meant met paid put read sent set sold spent stood brought bought
caught taught built began begun broke broken chose chosen drew drawn drank drunk drove driven ate eaten fell
fallen flew flown forgot forgotten froze frozen grew grown hung heard hid hidden held hurt laid led lent lay
lain lost rang rung rose risen ran rode ridden saw seen shook shaken shot shut sang sung sat slept spoke
spoken stole stolen stuck swam swum threw thrown understood woke woken wore worn won wrote written
"""
_ADJECTIVES_TEXT = """
small big large little tiny huge good bad great nice fine new old young long short high low hard easy early
late important different same best better worse worst whole real full free ready sure able quick fast slow
hot cold warm cool busy tired happy sad glad angry nervous excited amazing awesome awful terrible lovely
beautiful pretty ugly cheap expensive rich poor strong weak clear dark light heavy main major minor simple
certain possible impossible likely special common usual normal strange weird funny serious safe dangerous
quiet loud clean dirty empty open closed fresh final last next previous first second third entire
wrong correct true false interesting boring difficult okay super crazy cute bigger biggest smaller
smallest larger largest higher lower longer shorter older newer
"""
# Words that end like a verb form or an adjective but are nouns people tag.
_NOUN_EXCEPTIONS_TEXT = """
meeting building wedding painting training running swimming cooking hiking camping fishing shopping
parking morning evening ceiling feeling clothing marketing housing funding learning programming writing
reading gardening baking cycling climbing sailing skiing surfing dancing singing knitting drawing coding
hearing spring string thing king ring wing sibling pudding darling ding boxing landing bedding
planning booking parenting accounting budgeting networking recycling travelling traveling
bed red shed hundred sacred speed seed feed weed breed greed deed
family italy july supply reply rally belly jelly bully lily ally fly assembly anomaly butterfly monopoly
archive olive detective executive motive objective native drive
table cable vegetable fable bible variable
fish dish wish polish spanish english radish british irish swedish danish turkish finnish
forest interest test nest chest west guest rest request contest harvest protest quest
"""
_VERBS = frozenset(_VERBS_TEXT.split())
_PURE_VERBS = frozenset(_PURE_VERBS_TEXT.split())
_IRREGULAR_FORMS = frozenset(_IRREGULAR_TEXT.split())
_ADJECTIVES = frozenset(_ADJECTIVES_TEXT.split())
_NOUN_EXCEPTIONS = frozenset(_NOUN_EXCEPTIONS_TEXT.split())
_ADJECTIVE_SUFFIXES = ("ful", "ous", "less", "ive", "able", "ible", "ly", "ish", "est")
_GERUND_SUFFIXES = ("ando", "iendo")  # Spanish gerunds: "trabajando", "comiendo"
_APOSTROPHES = "'" + _CURLY_APOSTROPHE


def _is_tag_char(ch: str) -> bool:
    return ch == "_" or unicodedata.category(ch)[0] in "LMN"


def is_valid_tag(tag: str) -> bool:
    """A valid X hashtag body of at most MAX_TAG_CHARS: letters, marks, digits, "_"; one letter."""
    return (
        0 < len(tag) <= MAX_TAG_CHARS
        and all(_is_tag_char(ch) for ch in tag)
        and any(unicodedata.category(ch)[0] == "L" for ch in tag)
    )


def _fold(text: str) -> str:
    """Casefold and strip accents (é -> e, ü -> u, ß -> ss), as the blind index does."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _spelling(key: str) -> str:
    """British -> American endings, so colour/color, organise/organize, centre/center meet."""
    for british, american in (("our", "or"), ("ise", "ize"), ("yse", "yze"), ("tre", "ter")):
        if key.endswith(british) and len(key) > len(british) + 2:
            return key[: -len(british)] + american
    return key


def tag_forms(tag: str, *, language: str = "") -> frozenset[str]:
    """The keys a tag may stand for: its folded spelling and its possible singulars.

    Two tags mean the same when their forms meet ("movies" -> {movies, movie, movy} meets
    "movie"). Plural rules cover English and the Romance languages ("-es" only after s, x, z,
    ch, sh, o, so "James" is not "jam"); German plurals (-e, -en, -n, -er) only in a German
    note, since elsewhere they would make "plane" the plural of "plan".
    """
    key = _spelling("".join(ch for ch in _fold(tag.lstrip("#")) if ch not in "-_ " + _APOSTROPHES))
    forms = {key}
    if len(key) > 3 and key.endswith("s") and not key.endswith(("ss", "us", "is")):
        forms.add(key[:-1])
        if key.endswith(("ses", "xes", "zes", "ches", "shes", "oes")) or (
            key.endswith("es") and key[-3] in "lnr" and not language.startswith("en")
        ):
            forms.add(key[:-2])  # buses, boxes, churches; Spanish "reuniones" -> "reunion"
        if key.endswith("ies"):
            forms.add(key[:-3] + "y")
    if language.startswith("de") and len(key) > 4:
        forms.update(key[: -len(end)] for end in ("en", "er", "e", "n") if key.endswith(end))
    return frozenset(forms)


def same_tag(a: str, b: str, *, language: str = "") -> bool:
    return bool(tag_forms(a, language=language) & tag_forms(b, language=language))


def _camel(words: list[str]) -> str:
    return "".join(word[:1].upper() + word[1:] for word in words)


def _strip_possessive(word: str) -> str:
    """ "maria's" -> "maria", "James'" -> "James" (straight or curly apostrophe)."""
    word = word.replace(_CURLY_APOSTROPHE, "'")
    if len(word) > 2 and word.casefold().endswith("'s"):
        return word[:-2]
    return word.rstrip("'")


def is_verb_form(word: str) -> bool:
    """An inflected verb ("runs", "moved", "going") or a base form that is only ever a verb."""
    w = word.casefold()
    if w in _NOUN_EXCEPTIONS:
        return False
    if w in _IRREGULAR_FORMS or w in _PURE_VERBS or (len(w) > 6 and w.endswith(_GERUND_SUFFIXES)):
        return True
    # "-s" is a plural as often as a verb ("books", "plans", "trips"): only verbs that are
    # rarely a plural topic count ("runs", "goes", "makes").
    if w.endswith("s"):
        singular = {w[:-1], w[:-2]} | ({w[:-3] + "y"} if w.endswith("ies") else set())
        if singular & (_PURE_VERBS | {"run"}):
            return True
    bases: set[str] = set()
    for ending in ("ing", "ed"):
        if w.endswith(ending):
            stem = w[: -len(ending)]
            bases.update({stem, stem + "e", stem[:-1] + "y"})  # played, moved, studied
            if len(stem) > 2 and stem[-1] == stem[-2]:
                bases.add(stem[:-1])  # running -> run, stopped -> stop
    if bases & _VERBS:
        return True
    # Verbs not in the list: their -ing and -ed forms are participles, not topics.
    if w.endswith("ing") and len(w) >= 6:
        return True
    return w.endswith("ed") and len(w) >= 5 and not w.endswith("eed")


def is_adjective(word: str) -> bool:
    w = word.casefold()
    if w in _NOUN_EXCEPTIONS:
        return False
    return w in _ADJECTIVES or (len(w) >= 6 and w.endswith(_ADJECTIVE_SUFFIXES))


def _words_of(raw: str) -> list[str]:
    """The words of a proposed tag: '#', possessives and surrounding punctuation removed."""
    text = unicodedata.normalize("NFC", str(raw).strip().lstrip("#"))
    words = [_strip_possessive(w.strip('-.,;:!?"()[]{}')) for w in re.split(r"[\s_]+", text)]
    return [w.strip("-") for w in words if w.strip("-")]


def clean_candidate(raw: str, *, names: dict[str, str] | None = None) -> str | None:
    """A proposed tag in its display spelling, or None when it is not a topic.

    `names` (from names_in) maps the folded key of each name said in the note, and of each
    word of a longer name, to its display spelling: "maria's" -> "Maria", "Richard" or
    "richard powers" -> "RichardPowers".
    """
    words = _words_of(raw)
    # A phrase: drop leading and trailing function words ("the Eiffel Tower"); one left
    # inside means a clause ("trip to Paris"), not a topic.
    while words and words[0].casefold() in STOPWORDS:
        words.pop(0)
    while words and words[-1].casefold() in STOPWORDS:
        words.pop()
    if not words or len(words) > _MAX_PHRASE_WORDS or any(w.casefold() in STOPWORDS for w in words):
        return None
    key = _fold("".join(words).replace("-", ""))
    if names and key in names:
        return names[key]
    words = [w.replace("-", "") for w in words]
    if len(words) == 1:
        word = words[0]
        if len(word) < _MIN_TOPIC_CHARS or is_verb_form(word) or is_adjective(word):
            return None
        tag = word.casefold()
    else:
        if any(is_verb_form(w) for w in words):
            return None
        tag = _camel(words)
    tag = unicodedata.normalize("NFC", tag)
    return tag if is_valid_tag(tag) else None


def _preceding_char(text: str, index: int) -> str:
    """The last non-space character before `index` ("" at the start)."""
    index -= 1
    while index >= 0 and text[index].isspace():
        index -= 1
    return text[index] if index >= 0 else ""


def names_in(text: str, *, language: str = "") -> dict[str, str]:
    """Names said in a text, keyed by folded spelling (each word of a longer name too).

    A name is a run of up to three capitalised words separated by single spaces. One at a
    sentence start counts only if it is a possessive ("Maria's"), continues with a second
    capitalised word, or the word is capitalised mid-sentence elsewhere. German capitalises
    every noun, so there a single capitalised word is not a name.
    """
    text = _WRITTEN.sub(" ", _SPOKEN.sub(" ", text))
    runs: list[tuple[list[str], bool, bool]] = []  # words, starts a sentence, possessive
    mid_words: set[str] = set()
    current: list[str] = []
    current_start = False
    previous_end = -1
    for match in _WORD.finditer(text):
        word = match.group()
        at_start = _preceding_char(text, match.start()) in ("", *".!?\u3002\uff01\uff1f")
        base = _strip_possessive(word)
        possessive = base != word.replace(_CURLY_APOSTROPHE, "'")
        name_like = word[:1].isupper() and base.casefold() not in STOPWORDS and len(base) > 1
        joins = bool(current) and not at_start and text[previous_end : match.start()] == " "
        if current and not (name_like and joins):
            runs.append((current, current_start, False))
            current = []
        if name_like:
            if not current:
                current_start = at_start
            current.append(base)
            if not at_start:
                mid_words.add(_fold(base))
            if possessive or len(current) == _MAX_PHRASE_WORDS:
                runs.append((current, current_start, possessive))
                current = []
        previous_end = match.end()
    if current:
        runs.append((current, current_start, False))

    german = language.startswith("de")
    out: dict[str, str] = {}
    parts: dict[str, str] = {}
    for words, starts_sentence, possessive in runs:
        if german and len(words) == 1:
            continue
        if starts_sentence and len(words) == 1 and not possessive and _fold(words[0]) not in mid_words:
            continue
        display = _camel(words) if len(words) > 1 else words[0]
        out.setdefault(_fold("".join(words)), display)
        if len(words) > 1:
            for word in words:
                parts.setdefault(_fold(word), display)
    for key, display in parts.items():
        out.setdefault(key, display)
    return out


def written_hashtags(text: str) -> list[str]:
    """The note's own hashtags as tags: written ones in the case typed ("#RichardPowers",
    hyphens dropped: "#e-mail" -> "email"), spoken ones lowercase ("Hashtag Travel" -> "travel",
    Whisper capitalises after a full stop)."""
    found: list[tuple[int, str]] = []
    found.extend((m.start(), m.group(1)) for m in _WRITTEN.finditer(text))
    found.extend((m.start(), m.group(1).casefold()) for m in _SPOKEN.finditer(text))
    out: list[str] = []
    for _, raw in sorted(found):
        tag = unicodedata.normalize("NFC", raw.replace("-", ""))[:MAX_TAG_CHARS]
        if is_valid_tag(tag) and not any(same_tag(tag, seen) for seen in out):
            out.append(tag)
    return out


def _lowercase_only(text: str) -> frozenset[str]:
    capitalised: set[str] = set()
    lowercase: set[str] = set()
    for match in _WORD.finditer(text):
        word = match.group()
        (capitalised if word[:1].isupper() else lowercase).add(_fold(_strip_possessive(word)))
    return frozenset(lowercase - capitalised)


def clean_tags(
    *,
    candidates: list[str],
    text: str,
    language: str = "",
    vocabulary: list[str] | None = None,
    limit: int = MAX_TAGS,
) -> list[str]:
    """The note's tags: its own hashtags first (they always win), then the candidates that are
    topics, each in the user's existing spelling when one means the same; at most `limit`."""
    names = names_in(text, language=language)
    known = vocabulary or []
    # German capitalises every noun: a word the note only ever writes in lowercase is no topic.
    lowercase_only = _lowercase_only(text) if language.startswith("de") else frozenset()
    out: list[str] = []
    fixed: set[str] = set()  # hashtags and vocabulary spellings: never respelled

    def add(tag: str) -> None:
        for index, seen in enumerate(out):
            if same_tag(seen, tag, language=language):
                # Two forms of one new topic ("reuniones", "reunión"): the singular reads best.
                if seen not in fixed and _fold(tag) in tag_forms(seen, language=language) and tag != seen:
                    out[index] = tag
                return
        spelling = next((known_tag for known_tag in known if same_tag(known_tag, tag, language=language)), None)
        if spelling is not None:
            fixed.add(spelling)
        out.append(spelling or tag)

    for tag in written_hashtags(text):
        fixed.add(tag)
        add(tag)
    for raw in candidates:
        if len(out) >= limit:
            break
        cleaned = clean_candidate(raw, names=names)
        if cleaned and _fold(cleaned) not in lowercase_only:
            add(cleaned)
    return out[:limit]


def auto_candidates(text: str, *, language: str = "") -> list[str]:
    """Topic candidates without a model, for the pipeline: the most frequent words (names
    weighted up); clean_tags turns a word of a name into the whole name and drops the rest."""
    return topics(text, limit=4 * MAX_TAGS)
