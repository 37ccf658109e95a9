"""The append-only triggers of the wallet ledger and the audit log come from one helper
(core.append_only); its statements are the ones the two migrations ran before they shared it."""

from __future__ import annotations

import pytest
from django.db import connection

from core.append_only import append_only_statements

pytestmark = pytest.mark.django_db


def squeezed(statements: list[str]) -> list[str]:
    return [" ".join(s.split()) for s in statements]


def test_the_helper_writes_the_statements_the_migrations_always_ran():
    wallet, wallet_back = append_only_statements(
        table="wallet_ledgerentry",
        function="wallet_ledger_append_only",
        trigger="wallet_ledgerentry_no_update",
        message="wallet ledger entries are append-only: add a correction entry",
    )
    assert squeezed(wallet["postgresql"]) == [
        "CREATE OR REPLACE FUNCTION wallet_ledger_append_only() RETURNS trigger AS $$ BEGIN "
        "RAISE EXCEPTION 'wallet ledger entries are append-only: add a correction entry'; "
        "END; $$ LANGUAGE plpgsql;",
        "CREATE TRIGGER wallet_ledgerentry_no_update BEFORE UPDATE ON wallet_ledgerentry "
        "FOR EACH ROW EXECUTE FUNCTION wallet_ledger_append_only();",
    ]
    assert squeezed(wallet["sqlite"]) == [
        "CREATE TRIGGER wallet_ledgerentry_no_update BEFORE UPDATE ON wallet_ledgerentry "
        "BEGIN SELECT RAISE(ABORT, 'wallet ledger entries are append-only: add a correction "
        "entry'); END;"
    ]
    assert wallet_back == {
        "postgresql": [
            "DROP TRIGGER IF EXISTS wallet_ledgerentry_no_update ON wallet_ledgerentry;",
            "DROP FUNCTION IF EXISTS wallet_ledger_append_only();",
        ],
        "sqlite": ["DROP TRIGGER IF EXISTS wallet_ledgerentry_no_update;"],
    }
    audit, audit_back = append_only_statements(
        table="audit_auditentry",
        function="audit_entry_append_only",
        trigger="audit_auditentry_append_only",
        sqlite_trigger="audit_auditentry_no_update",
        message="audit entries are append-only",
    )
    assert squeezed(audit["postgresql"])[1] == (
        "CREATE TRIGGER audit_auditentry_append_only BEFORE UPDATE ON audit_auditentry "
        "FOR EACH ROW EXECUTE FUNCTION audit_entry_append_only();"
    )
    assert squeezed(audit["sqlite"]) == [
        "CREATE TRIGGER audit_auditentry_no_update BEFORE UPDATE ON audit_auditentry "
        "BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;"
    ]
    assert audit_back["sqlite"] == ["DROP TRIGGER IF EXISTS audit_auditentry_no_update;"]


def test_the_migrated_database_has_both_triggers():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tgname, tgrelid::regclass::text FROM pg_trigger "
            "WHERE tgname IN ('wallet_ledgerentry_no_update', 'audit_auditentry_append_only') "
            "ORDER BY tgname"
        )
        assert cursor.fetchall() == [
            ("audit_auditentry_append_only", "audit_auditentry"),
            ("wallet_ledgerentry_no_update", "wallet_ledgerentry"),
        ]
