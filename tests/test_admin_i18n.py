"""The managers' admin pages speak English, Simplified and Traditional Chinese and Persian.

Every string our admin modules, models and templates mark for translation is in each of the
four catalogues of config/locale (the widgets keep theirs, tests/widgets/test_i18n.py): adding
`gettext("New text")` or `{% translate "New text" %}` without translating it fails here, naming
the string and the language. Then the language reaches the page: the manager's choice (the
language menu's cookie), else the browser's Accept-Language; Persian pages are right to left
and show dates in the Solar Hijri calendar; the API stays English.

Every model of our apps' admins (found in the admin site's registry, so a new admin is covered
without editing this file) has its names, fields, help texts and choices marked; a manager's
list and add pages of each are Persian, and the index names each in Traditional Chinese.
"""

from __future__ import annotations

import ast
import gettext as gnu_gettext
import html as html_lib
import re
from datetime import UTC, date, datetime
from pathlib import Path
from pprint import pformat
from typing import Any
from zoneinfo import ZoneInfo

import django
import jdatetime
import pytest
from django.conf import settings
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db.models import Model
from django.test import Client
from django.urls import reverse
from django.utils import translation
from django.utils.functional import Promise
from django.utils.text import capfirst
from rest_framework.test import APIClient

from accounts.models import Membership
from accounts.services import api_key_create, tenant_create
from core import localdates
from gamify.widgets import formatting
from kpis.formulas import BUILTIN
from tests import test_tenant_matrix as matrix
from tests.widgets.catalogues import (
    LOCALES,
    SIMPLIFIED_ONLY,
    read_po,
    strings_of_template,
    template_strings,
)
from tests.widgets.catalogues import po_path as widget_po_path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("accounts", "config", "core", "kpis", "gamify")
SKIPPED = ("gamify/widgets", "/migrations/")
PLACEHOLDER = re.compile(r"%\((\w+)\)s")
BRANDS = {"Gamify"}  # a name, written the same in every language
MARKERS = {"_", "gettext", "gettext_lazy", "gettext_noop", "ngettext", "ngettext_lazy"}

_TRANSLATE = re.compile(r"""\{%\s*translate\s+(["'])(.*?)\1""", re.S)


def po_path(locale: str) -> Path:
    return ROOT / "config" / "locale" / locale / "LC_MESSAGES" / "django.po"


def _ours(path: Path) -> bool:
    text = path.as_posix()
    return not any(part in text for part in SKIPPED)


def source_strings() -> set[tuple[str, str | None]]:
    """(msgid, msgid_plural) of every string our admin code and templates translate."""
    found: set[tuple[str, str | None]] = set()
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.html")):
            if not _ours(path):
                continue
            found |= strings_of_template(path.read_text(encoding="utf-8"))
        for path in sorted((ROOT / package).rglob("*.py")):
            if not _ours(path):
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.Call):
                    continue
                name = getattr(node.func, "id", getattr(node.func, "attr", None))
                args = [a.value for a in node.args if isinstance(a, ast.Constant)]
                texts = [a for a in args if isinstance(a, str)]
                if name in MARKERS and texts and texts[0] == args[0]:
                    plural = texts[1] if name.startswith("ngettext") and len(texts) > 1 else None
                    found.add((texts[0], plural))
    return found


def test_the_extractor_finds_the_admin_pages_strings():
    strings = source_strings()
    assert ("Grant coins", None) in strings  # agent_change_form.html
    assert ("Scorecard: %(name)s", None) in strings  # coaching/admin.py
    assert ("This week (%(first)s – %(last)s, %(zone)s time)", None) in strings  # blocktranslate
    assert ("%(count)s contest cancelled.", "%(count)s contests cancelled.") in strings
    assert ("Reject the selected redemptions (refund coins and stock)", None) in strings
    assert ("before → after", None) in strings  # audit
    assert ("Send a test ping", None) in strings  # webhooks
    assert ("Average handle time", None) in strings  # a built-in KPI's name
    assert ("ledger entries", None) in strings  # a model's name: gettext_lazy as `_`
    assert ("display name", None) in strings  # a field's verbose_name, positional
    assert ("Units left; empty means unlimited", None) in strings  # a field's help_text
    assert ("Points conversion", None) in strings  # a choice's label
    assert not any(s == "Why my points changed" for s, _ in strings)  # widgets: their own


# --- what the admin shows of our models ----------------------------------------------------
def our_admins() -> list[tuple[type[Model], Any]]:
    """The admin site's models of our packages (not Django's, Celery beat's, axes'…), read from
    the registry itself: a new admin is covered without editing this file."""
    found = [
        (model, model_admin)
        for model, model_admin in admin.site._registry.items()
        if model.__module__.split(".")[0] in PACKAGES
    ]
    return sorted(found, key=lambda pair: pair[0]._meta.label)


def admin_models() -> list[type[Model]]:
    """Our admins' models and their inlines' (the tables inside a change page)."""
    models: dict[str, type[Model]] = {}
    for model, model_admin in our_admins():
        models[model._meta.label] = model
        for inline in model_admin.inlines:
            models[inline.model._meta.label] = inline.model
    return [models[label] for label in sorted(models)]


def english(text: Any) -> str:
    with translation.override("en"):
        return str(text)


def shown_texts(model: type[Model]) -> list[tuple[str, Any]]:
    """(where, text) of a model's names, its fields' names and help texts, and its choices'
    labels: the words the admin's titles, breadcrumbs, columns, filters and forms show."""
    opts = model._meta
    texts = [
        (f"{opts.label} name", opts.verbose_name),
        (f"{opts.label} plural", opts.verbose_name_plural),
    ]
    languages = {name for _, name in settings.LANGUAGES}  # a language menu names each in its own
    for field in opts.get_fields():
        if (
            not field.concrete
            or field.auto_created
            or (field.primary_key and not field.is_relation)
        ):
            continue
        texts.append((f"{opts.label}.{field.name}", field.verbose_name))
        if field.help_text:
            texts.append((f"{opts.label}.{field.name} help", field.help_text))
        for value, label in field.flatchoices or []:
            if str(label) not in languages and re.search(r"[A-Za-z]{2}", str(label)):
                texts.append((f"{opts.label}.{field.name} choice {value!r}", label))
    return texts


def test_every_admin_model_is_named_in_the_managers_language():
    """verbose_name, verbose_name_plural, each field's verbose_name and help_text and each
    choice's label are marked for translation, and found by the extractors (so the catalogue
    tests above hold them to a translation in each language)."""
    strings = {text for text, _ in source_strings() | template_strings()}
    unmarked, unseen = [], []
    for model in admin_models():
        for where, text in shown_texts(model):
            if not isinstance(text, Promise):
                unmarked.append(f"{where}: {text!r}")
            elif english(text) not in strings:
                unseen.append(f"{where}: {english(text)!r}")
    assert not unmarked, f"not marked for translation (_(…)): {unmarked}"
    assert not unseen, f"marked, but no extractor finds them: {unseen}"


@pytest.mark.parametrize("locale", LOCALES)
def test_every_admin_string_is_translated(locale):
    catalogue = read_po(po_path(locale))
    missing, untranslated = [], []
    for msgid, plural in sorted(source_strings(), key=lambda s: s[0]):
        entry = catalogue.get(msgid)
        if entry is None or entry.plural != plural:
            missing.append(msgid)
        elif entry.fuzzy or not entry.strs or not all(entry.strs):
            untranslated.append(msgid)
    assert not missing, f"{locale}: not in config/locale (run makemessages): {missing}"
    assert not untranslated, f"{locale}: no translation for {untranslated}"


@pytest.mark.parametrize("locale", LOCALES)
def test_every_builtin_kpi_name_is_translated(locale):
    catalogue = read_po(po_path(locale))
    assert {k.name for k in BUILTIN.values()} <= catalogue.keys()


@pytest.mark.parametrize("locale", LOCALES)
def test_admin_translations_keep_placeholders_and_compile(locale):
    path = po_path(locale)
    with path.with_suffix(".mo").open("rb") as handle:
        compiled = gnu_gettext.GNUTranslations(handle)
    for entry in read_po(path).values():
        wanted = set(PLACEHOLDER.findall(entry.msgid))
        for text in entry.strs:
            assert set(PLACEHOLDER.findall(text)) == wanted, (locale, entry.msgid, text)
        if entry.plural is None:
            assert compiled.gettext(entry.msgid) == entry.strs[0], (locale, entry.msgid)
        else:
            assert compiled.ngettext(entry.msgid, entry.plural, 1) == entry.strs[0]


@pytest.mark.parametrize("locale", LOCALES)
def test_a_string_in_both_catalogues_says_the_same(locale):
    """config/locale comes first (LOCALE_PATHS): a shared msgid must not change a widget's."""
    admin, widgets = read_po(po_path(locale)), read_po(widget_po_path(locale))
    differ = {
        m: (admin[m].strs, widgets[m].strs)
        for m in admin.keys() & widgets.keys()
        if admin[m].strs != widgets[m].strs
    }
    assert not differ, (locale, differ)


# Django's own admin strings its Persian catalogue leaves untranslated and a manager never sees.
NOT_ON_MANAGERS_PAGES = {
    # a user's password page: operators' (superusers'), not the managers'
    "This action will <strong>enable</strong> password-based authentication for this user.",
    "In case you’ve forgotten, you are:",  # the password-reset e-mail, not sent by Gamify
    "entry",  # in the catalogue, used by no admin template or code
}


def test_what_djangos_persian_catalogue_leaves_untranslated_is_ours():
    """config/django_strings.py carries them; a Django upgrade that leaves more fails here."""
    path = Path(django.__file__).parent / "contrib/admin/locale/fa/LC_MESSAGES/django.po"
    ours = read_po(po_path("fa"))
    django_fa = read_po(path)
    gaps = [
        e.msgid
        for e in django_fa.values()
        if (e.fuzzy or not e.strs or not all(e.strs)) and e.msgid not in NOT_ON_MANAGERS_PAGES
    ]
    assert gaps, "Django's Persian admin catalogue is complete: config/django_strings.py can go"
    # and strings of Django's admin templates its catalogue does not hold at all (newer than
    # its last translation: the actions bar's "Run" showed in English)
    templates = Path(django.__file__).parent / "contrib/admin/templates"
    for page in templates.rglob("*.html"):
        for match in _TRANSLATE.finditer(page.read_text(encoding="utf-8")):
            if match.group(2) not in django_fa and match.group(2) not in NOT_ON_MANAGERS_PAGES:
                gaps.append(match.group(2))
    assert [m for m in gaps if m not in ours or not all(ours[m].strs)] == []


def test_admin_traditional_chinese_has_no_simplified_only_characters():
    for entry in read_po(po_path("zh_Hant")).values():
        text = "".join(entry.strs)
        assert not SIMPLIFIED_ONLY & set(text), (entry.msgid, text, SIMPLIFIED_ONLY & set(text))


def test_admin_persian_and_chinese_are_not_english():
    for locale in ("zh_Hans", "zh_Hant", "fa"):
        same = [
            e.msgid
            for e in read_po(po_path(locale)).values()
            if e.strs
            and e.msgid not in BRANDS
            and e.strs[0] == e.msgid
            and re.search(r"[A-Za-z]{2}", PLACEHOLDER.sub("", e.msgid))
        ]
        assert same == [], (locale, same)


# --- the Solar Hijri calendar ------------------------------------------------------------
# 1 Farvardin 1405 = 21 March 2026. To 2 December: 11 days of March (21–31) + 30 + 31 + 30
# + 31 + 31 + 30 + 31 + 30 (April–November) + 2 = day 257 of the year; six months of 31 days
# (186) leave 71 = Mehr's 30 + Aban's 30 + 11: 11 Azar (month 9) 1405.
DAY = date(2026, 12, 2)


def test_persian_dates_are_solar_hijri():
    assert localdates.long_date(DAY, "fa") == "۱۱ آذر ۱۴۰۵"
    assert localdates.short_date(DAY, "fa") == "۱۴۰۵/۹/۱۱"
    assert localdates.admin_date(DAY, "fa") == "11 آذر 1405"
    # Nowruz: 20 March 2026 is the last day of 1404 (Esfand 29), 21 March the first of 1405.
    assert localdates.short_date(date(2026, 3, 20), "fa") == "۱۴۰۴/۱۲/۲۹"
    assert localdates.short_date(date(2026, 3, 21), "fa") == "۱۴۰۵/۱/۱"


def test_a_moment_is_dated_in_the_tenants_zone_before_the_calendar():
    # 2 Dec 2026 21:30 UTC is already 3 Dec 01:00 in Tehran (UTC+3:30): 12 Azar.
    moment = datetime(2026, 12, 2, 21, 30, tzinfo=UTC)
    assert localdates.admin_datetime(moment, ZoneInfo("Asia/Tehran"), "fa") == "12 آذر 1405، 01:00"
    assert localdates.admin_datetime(moment, ZoneInfo("UTC"), "fa") == "11 آذر 1405، 21:30"
    assert localdates.admin_datetime(moment, ZoneInfo("Asia/Tehran"), "en") == "2026-12-03 01:00"


def test_widgets_write_persian_dates_in_the_persian_calendar():
    assert formatting.day(DAY, "fa") == "۱۴۰۵/۹/۱۱"
    moment = datetime(2026, 12, 2, 10, 5, tzinfo=UTC)
    assert formatting.when(moment, ZoneInfo("Asia/Tehran"), "fa") == "۱۴۰۵/۹/۱۱ ۱۳:۳۵"
    assert formatting.when(moment, ZoneInfo("Asia/Tehran"), "fa", with_date=False) == "۱۳:۳۵"
    # other languages keep Django's Gregorian formats
    assert formatting.day(DAY, "zh-hans") == "2026年12月2日"
    assert formatting.day(DAY, "en") == "12/02/2026"


# --- which language a page gets -----------------------------------------------------------
@pytest.fixture
def manager(tenant):
    user = get_user_model().objects.create_user(
        "i18n-manager", password="pw-123456789", is_staff=True
    )
    Membership.objects.create(user=user, tenant=tenant, role="manager")
    return user


@pytest.mark.django_db
def test_the_admin_follows_accept_language_and_persian_is_right_to_left(client, manager, agent):
    client.force_login(manager)
    html = client.get(
        f"/admin/accounts/agent/{agent.pk}/change/", HTTP_ACCEPT_LANGUAGE="fa-IR,fa;q=0.9,en;q=0.5"
    ).content.decode()
    assert '<html lang="fa" dir="rtl">' in html
    assert "اعطای سکه" in html
    assert "Grant coins" not in html
    assert "کارنامهٔ این هفته" in html
    html = client.get(
        f"/admin/accounts/agent/{agent.pk}/change/", HTTP_ACCEPT_LANGUAGE="zh-TW"
    ).content.decode()
    assert '<html lang="zh-hant" dir="ltr">' in html
    assert "發放金幣" in html


@pytest.mark.django_db
def test_the_language_menu_choice_beats_the_browsers(client, manager, agent):
    client.force_login(manager)
    response = client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/admin/"})
    assert response.status_code == 302
    assert response.cookies["django_language"].value == "zh-hans"
    html = client.get(
        f"/admin/accounts/agent/{agent.pk}/change/", HTTP_ACCEPT_LANGUAGE="fa"
    ).content.decode()
    assert '<html lang="zh-hans"' in html
    assert "发放金币" in html
    # the menu itself: a labelled select and a button, offering exactly the four languages
    assert re.findall(r'<option value="([\w-]+)" lang=', html) == ["en", "zh-hans", "zh-hant", "fa"]
    assert '<label for="gamify-language">' in html


@pytest.mark.django_db
def test_a_language_outside_the_four_falls_back_to_english(client, manager, agent):
    client.force_login(manager)
    html = client.get(
        f"/admin/accounts/agent/{agent.pk}/change/", HTTP_ACCEPT_LANGUAGE="de-DE,de"
    ).content.decode()
    assert '<html lang="en" dir="ltr">' in html
    assert "Grant coins" in html


@pytest.mark.django_db
def test_the_api_stays_english_whatever_the_client_asks(api):
    response = api.post("/api/v1/goals", {}, format="json", HTTP_ACCEPT_LANGUAGE="fa")
    assert response.status_code == 400
    body = response.content.decode()
    assert "required" in body
    assert not re.search(r"[\u0600-\u06ff]", body)


@pytest.mark.django_db
def test_the_audit_log_reads_in_persian_with_solar_hijri_times(client, manager, api, agent):
    answer = api.post(
        "/api/v1/agents/a1/wallet/grants",
        {"amount": 3, "reason": "audit in Persian"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="fa-audit-1",
    )
    assert answer.status_code == 201
    client.force_login(manager)
    html = client.get("/admin/audit/auditentry/", HTTP_ACCEPT_LANGUAGE="fa").content.decode()
    assert '<html lang="fa" dir="rtl">' in html
    for persian in ("کنش", "نوع شیء", "زمان ایجاد", "نوع انجام‌دهنده", "کلید API"):
        assert persian in html, persian
    cell = re.search(r'<td class="field-action_label">([^<]*)</td>', html)
    assert cell is not None
    assert cell.group(1) == "اعطا"  # the grant's action, translated
    # the entry's time: the tenant's zone (Shanghai), Solar Hijri, month named
    months = "|".join(jdatetime.date.j_months_fa)
    assert re.search(rf"\d{{1,2}} ({months}) 1[34]\d\d، \d\d:\d\d", html)


# --- every admin page of our apps, in Persian and Traditional Chinese ---------------------
PERSIAN = re.compile(r"[\u0600-\u06ff]")
_TITLE = re.compile(r"<title>(.*?)</title>", re.S)
_H1 = re.compile(r"<h1\b[^>]*>(.*?)</h1>", re.S)
_HEADER = re.compile(r'<th scope="col"[^>]*>.*?<div class="text">(.*?)</div>', re.S)
_FILTER = re.compile(r'data-filter-title="([^"]*)"')
_ACTION = re.compile(r'<option value="(\w+)">([^<]*)</option>')
_LABEL = re.compile(r"<label\b[^>]*>(.*?)</label>", re.S)
_HELP = re.compile(r'<div class="help"[^>]*>(.*?)</div>\s*</div>', re.S)
_HEADING = re.compile(r"<h2\b[^>]*>(.*?)</h2>", re.S)
_TAG = re.compile(r"<[^>]+>")
_KPI_CELL = re.compile(r'<td class="field-(?:kpi|metric)[^"]*">(.*?)</td>', re.S)
# A form's menus: their options' words (not a related object's, whose value is its id; not the
# language menus', each language named in its own; not the seed's own KPI, as its tenant named
# it; not a comparison's sign).
_SELECT = re.compile(r'<select name="([^"]*)"[^>]*>(.*?)</select>', re.S)
_OPTION = re.compile(r'<option value="([^"]+)"[^>]*>([^<]*)</option>')
OWN_NAMES = ("language", "locale")


def menu_words(page: str) -> list[str]:
    options = [
        (value, html_lib.unescape(text))
        for name, menu in _SELECT.findall(page)
        if name not in OWN_NAMES
        for value, text in _OPTION.findall(menu)
    ]
    own_kpi = matrix.OWNER_REF.replace("-", "_")  # the seed's own KPI code
    return [
        text
        for value, text in options
        if not value.isdigit() and value != own_kpi and re.search(r"[A-Za-z]{2}", text)
    ]


def texts(pattern: re.Pattern[str], page: str) -> list[str]:
    """The matches' text, tags stripped and entities read."""
    found = (m if isinstance(m, str) else m[-1] for m in pattern.findall(page))
    return [html_lib.unescape(_TAG.sub("", t)).strip() for t in found]


def not_persian(items: list[str]) -> list[str]:
    return [t for t in items if t and not PERSIAN.search(t)]


@pytest.fixture
def manager_client(django_capture_on_commit_callbacks: Any) -> Client:
    """A manager (not an owner, not a superuser) of a tenant with one object of each kind,
    made through the API as the cross-tenant matrix makes them; the language cookie unset."""
    world = matrix.World(
        owner=tenant_create(name="Zorblax Support", timezone_name="Asia/Shanghai", slug="zorblax"),
        outsider=tenant_create(name="Outsider", timezone_name="UTC", slug="outsider"),
        api=APIClient(),
    )
    _, raw = api_key_create(tenant=world.owner, scopes=["ingest", "read", "manage"], name="k")
    world.api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    with django_capture_on_commit_callbacks(execute=True):
        matrix.seed_owner(world)
    user = get_user_model().objects.create_user(
        "fa-manager", password="pw-123456789", is_staff=True
    )
    Membership.objects.create(user=user, tenant=world.owner, role=Membership.Role.MANAGER)
    client = Client()
    client.force_login(user)
    return client


def translation_of(text: Any, language: str) -> str:
    with translation.override(language):
        return str(text)


def admin_url(model: type[Model], view: str) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}")


@pytest.mark.django_db
def test_every_admin_list_and_add_page_of_our_apps_is_persian(manager_client):
    """For each of our registered admins: the list's title, heading, column headers, KPI
    names, filter titles and actions, and the add page's (where a manager may add) title,
    heading, breadcrumbs, labels, help texts, menus and fieldset headings are Persian; the
    model's English name is not in either title."""
    manager_client.cookies["django_language"] = "fa"
    labels = {model._meta.label for model, _ in our_admins()}
    assert {"accounts.Agent", "audit.AuditEntry", "game.PointRule", "webhooks.Delivery"} <= labels
    problems: dict[str, Any] = {}
    for model, _model_admin in our_admins():
        label = model._meta.label
        names = {english(model._meta.verbose_name), english(model._meta.verbose_name_plural)}
        page = manager_client.get(admin_url(model, "changelist")).content.decode()
        assert '<html lang="fa" dir="rtl">' in page, label
        title = texts(_TITLE, page)[0]
        headers = [h for h in texts(_HEADER, page) if h]
        if not headers:
            problems[label] = "no row to show: add one to tests/test_tenant_matrix.py seed_owner"
            continue
        actions = [text for value, text in _ACTION.findall(page) if value != ""]
        wrong = {
            "title": not_persian([title]) or [n for n in names if n.lower() in title.lower()],
            "h1": not_persian(texts(_H1, page)),
            "columns": not_persian(headers),
            "filters": not_persian(texts(_FILTER, page)),
            "actions": not_persian([html_lib.unescape(a) for a in actions]),
            "KPI cells": not_persian([c for c in texts(_KPI_CELL, page) if c != "-"]),
        }
        add = manager_client.get(admin_url(model, "add"))
        if add.status_code != 403:
            assert add.status_code == 200, (label, add.status_code)
            form = add.content.decode()
            title = texts(_TITLE, form)[0]
            plural = translation_of(model._meta.verbose_name_plural, "fa")
            wrong |= {
                "add title": not_persian([title])
                or [n for n in names if n.lower() in title.lower()],
                "add h1": not_persian(texts(_H1, form)),
                "add breadcrumbs": [] if f">{capfirst(plural)}</a>" in form else [plural],
                "labels": not_persian(texts(_LABEL, form)),
                "help": not_persian(texts(_HELP, form)),
                "headings": not_persian(texts(_HEADING, form)),
                "menus": not_persian(menu_words(form)),
            }
        wrong = {k: v for k, v in wrong.items() if v}
        if wrong:
            problems[label] = wrong
    assert not problems, pformat(problems, width=120)


@pytest.mark.django_db
def test_the_admin_index_names_every_model_of_our_apps_in_traditional_chinese(manager_client):
    manager_client.cookies["django_language"] = "zh-hant"
    page = manager_client.get("/admin/").content.decode()
    assert '<html lang="zh-hant" dir="ltr">' in page
    wrong = {}
    for model, _model_admin in our_admins():
        link = re.search(
            rf'<a href="{re.escape(admin_url(model, "changelist"))}"[^>]*>([^<]*)</a>', page
        )
        shown = html_lib.unescape(link.group(1)) if link else None
        wanted = capfirst(translation_of(model._meta.verbose_name_plural, "zh-hant"))
        if shown != wanted or re.search(r"[A-Za-z]{3}", wanted.replace("API", "")):
            wrong[model._meta.label] = (shown, wanted)
        elif SIMPLIFIED_ONLY & set(shown):
            wrong[model._meta.label] = (shown, SIMPLIFIED_ONLY & set(shown))
    assert not wrong, wrong
    title = texts(_TITLE, page)[0]
    assert not re.search(r"[A-Za-z]{3}", title.replace("Django", "")), title


def test_every_app_of_ours_with_an_admin_is_named_in_the_managers_language():
    """The index and the breadcrumbs name the app (the widgets' showed "Widgets" in Persian)."""
    from django.apps import apps

    with_admin = {model._meta.app_config for model in admin.site._registry}
    ours = [a for a in with_admin if a.name.split(".")[0] in PACKAGES]
    assert len(ours) >= 8
    assert [a.name for a in ours if not isinstance(a.verbose_name, Promise)] == []
    for app in ours:
        with translation.override("fa"):
            assert not re.search(r"[A-Za-z]{3}", str(app.verbose_name).replace("KPI", "")), app.name
    assert apps.get_app_config("widgets") in ours
