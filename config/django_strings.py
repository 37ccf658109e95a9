"""Strings of Django's own admin that its Persian catalogue leaves untranslated (Django 6.0):
each row's checkbox label, the index's model-name column (both read by screen readers), the
actions bar's Run button and the error line above a refused form. Marked here so
`makemessages` keeps them in config/locale, which Django reads before its own catalogues;
tests/test_admin_i18n.py fails when a Django upgrade leaves another of the managers' admin
strings untranslated in Persian.

Nothing calls this module: it only carries the markers.
"""

from __future__ import annotations

from django.utils.translation import gettext_noop, ngettext

DJANGO_ADMIN_STRINGS = (
    gettext_noop("Select this object for an action - {}"),
    gettext_noop("Model name"),
    gettext_noop("Run"),  # the actions bar's button
)


def _plural_markers() -> None:  # pragma: no cover - never called, read by makemessages
    ngettext("Please correct the error below.", "Please correct the errors below.", 1)
