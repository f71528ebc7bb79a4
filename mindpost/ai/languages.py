"""Language names as Whisper (and OpenAI's verbose_json) report them, mapped to ISO codes."""

from __future__ import annotations

_WHISPER = (
    "en english, zh chinese, de german, es spanish, ru russian, ko korean, fr french, ja japanese, "
    "pt portuguese, tr turkish, pl polish, ca catalan, nl dutch, ar arabic, sv swedish, it italian, "
    "id indonesian, hi hindi, fi finnish, vi vietnamese, he hebrew, uk ukrainian, el greek, ms malay, "
    "cs czech, ro romanian, da danish, hu hungarian, ta tamil, no norwegian, th thai, ur urdu, "
    "hr croatian, bg bulgarian, lt lithuanian, la latin, mi maori, ml malayalam, cy welsh, sk slovak, "
    "te telugu, fa persian, lv latvian, bn bengali, sr serbian, az azerbaijani, sl slovenian, "
    "kn kannada, et estonian, mk macedonian, br breton, eu basque, is icelandic, hy armenian, "
    "ne nepali, mn mongolian, bs bosnian, kk kazakh, sq albanian, sw swahili, gl galician, "
    "mr marathi, pa punjabi, si sinhala, km khmer, sn shona, yo yoruba, so somali, af afrikaans, "
    "oc occitan, ka georgian, be belarusian, tg tajik, sd sindhi, gu gujarati, am amharic, "
    "yi yiddish, lo lao, uz uzbek, fo faroese, ht haitian creole, ps pashto, tk turkmen, nn nynorsk, "
    "mt maltese, sa sanskrit, lb luxembourgish, my myanmar, bo tibetan, tl tagalog, mg malagasy, "
    "as assamese, tt tatar, haw hawaiian, ln lingala, ha hausa, ba bashkir, jw javanese, "
    "su sundanese, yue cantonese"
)
CODE_BY_NAME: dict[str, str] = {
    name: code for code, name in (entry.strip().split(" ", 1) for entry in _WHISPER.split(","))
}
CODES = frozenset(CODE_BY_NAME.values())
# Names providers use that differ from Whisper's.
CODE_BY_NAME.update({"burmese": "my", "haitian": "ht", "castilian": "es", "flemish": "nl", "moldavian": "ro"})


def to_iso(value: str | None) -> str | None:
    """ "english" / "English" / "en" / "en-US" -> "en"; unknown or empty -> None."""
    if not value:
        return None
    value = value.strip().lower()
    if value in CODES:
        return value
    if value in CODE_BY_NAME:
        return CODE_BY_NAME[value]
    base = value.replace("_", "-").split("-", 1)[0]
    return base if base in CODES else None
