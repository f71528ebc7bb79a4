"""Web-intent links ("Open in X / LinkedIn / Bluesky"): the text encoded whole, and cut to fit."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from mindpost.posts import intents, length


def _text_of(url: str) -> str:
    return parse_qs(urlsplit(url).query, keep_blank_values=True)["text"][0]


def test_every_reserved_character_round_trips() -> None:
    text = "Tea & cake #brunch +1 100% = yes?\nSecond line: https://example.com/a?b=c&d=e 🇬🇷 café"
    links = {link.network: link for link in intents.intent_links(text)}
    assert set(links) == {"x", "linkedin", "bluesky"}
    assert links["x"].url.startswith("https://x.com/intent/post?text=")
    assert links["linkedin"].url.startswith("https://www.linkedin.com/feed/?shareActive=true&text=")
    assert links["bluesky"].url.startswith("https://bsky.app/intent/compose?text=")
    for link in links.values():
        # One query parameter carries all of it: "&", "#", "+", "=" and the newline are escaped.
        assert "&d=" not in link.url
        assert "#" not in link.url
        assert "+" not in link.url
        assert "\n" not in link.url
        assert "%0A" in link.url
        assert "%26" in link.url
        assert "%23brunch" in link.url
        assert _text_of(link.url) == text
        assert link.shortened is False
    assert "shareActive=true" in links["linkedin"].url  # LinkedIn's own parameter stays a parameter


def test_long_text_is_cut_per_network_at_a_word() -> None:
    text = " ".join(f"word{n}" for n in range(800))  # ~6 000 characters
    links = {link.network: link for link in intents.intent_links(text)}
    x_text = _text_of(links["x"].url)
    assert length.weighted_length(x_text) <= 280
    assert x_text.endswith("…")
    assert text.startswith(x_text[:-1])  # whole words only
    assert length.grapheme_length(_text_of(links["bluesky"].url)) <= 300
    assert len(_text_of(links["linkedin"].url)) <= 3000
    assert all(link.shortened for link in links.values())


def test_url_stays_under_the_cap_even_for_multibyte_text() -> None:
    # 3 000 CJK characters fit LinkedIn's limit but encode to 27 000 URL characters.
    text = "字" * 3000
    for link in intents.intent_links(text):
        assert len(link.url) <= intents.MAX_URL_LENGTH
        assert link.shortened


def test_a_short_post_is_not_marked_shortened() -> None:
    assert not any(link.shortened for link in intents.intent_links("Short and sweet."))
