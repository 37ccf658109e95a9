"""Every string a widget shows is translated in all four catalogues, and the compiled .mo
files say the same as the .po files they are built from (both are committed).

Adding `{% translate "New text" %}` to a template without adding it to every catalogue fails
here, naming the string and the language.
"""

from __future__ import annotations

import gettext
import re

import pytest

from tests.widgets.catalogues import (
    LOCALES,
    SIMPLIFIED_ONLY,
    po_path,
    read_po,
    template_strings,
)

PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def test_the_extractor_finds_the_pages_strings():
    strings = {msgid for msgid, _ in template_strings()}
    assert "Why my points changed" in strings
    assert "Agent #%(number)s" in strings
    assert "You do not have enough coins for this reward." in strings  # from views.py
    assert (
        "not ranked yet (%(more)s more contact)",
        "not ranked yet (%(more)s more contacts)",
    ) in (template_strings())


@pytest.mark.parametrize("locale", LOCALES)
def test_every_template_string_is_translated(locale):
    catalogue = read_po(po_path(locale))
    missing, untranslated = [], []
    for msgid, plural in sorted(template_strings(), key=lambda s: s[0]):
        entry = catalogue.get(msgid)
        if entry is None or entry.plural != plural:
            missing.append(msgid)
        elif entry.fuzzy or not entry.strs or not all(entry.strs):
            untranslated.append(msgid)
    assert not missing, f"{locale}: not in the catalogue (run makemessages): {missing}"
    assert not untranslated, f"{locale}: no translation for {untranslated}"


@pytest.mark.parametrize("locale", LOCALES)
def test_translations_keep_their_placeholders(locale):
    for entry in read_po(po_path(locale)).values():
        wanted = set(PLACEHOLDER.findall(entry.msgid))
        for text in entry.strs:
            assert set(PLACEHOLDER.findall(text)) == wanted, (locale, entry.msgid, text)


@pytest.mark.parametrize("locale", LOCALES)
def test_compiled_catalogue_matches_its_source(locale):
    path = po_path(locale)
    with path.with_suffix(".mo").open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    for entry in read_po(path).values():
        if entry.plural is None:
            assert compiled.gettext(entry.msgid) == entry.strs[0], (locale, entry.msgid)
        else:
            assert compiled.ngettext(entry.msgid, entry.plural, 1) == entry.strs[0]


def test_traditional_chinese_uses_no_simplified_only_characters():
    for entry in read_po(po_path("zh_Hant")).values():
        text = "".join(entry.strs)
        assert not SIMPLIFIED_ONLY & set(text), (entry.msgid, text, SIMPLIFIED_ONLY & set(text))


def test_persian_and_chinese_catalogues_are_not_english():
    for locale in ("zh_Hans", "zh_Hant", "fa"):
        entries = read_po(po_path(locale)).values()
        same = [
            e.msgid
            for e in entries
            if e.strs
            and e.strs[0] == e.msgid
            and re.search(r"[A-Za-z]", PLACEHOLDER.sub("", e.msgid))
        ]
        assert not same, (locale, same)
