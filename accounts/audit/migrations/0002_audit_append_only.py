"""The database refuses to update an audit entry.

Deletes are left to the cascade of a tenant removed by an operator (Django deletes the children
before the tenant, so a trigger could not tell that apart); the ORM refuses every other delete.
The SQL is core.append_only's, the same statements this migration always ran.
"""

from django.db import migrations

from core.append_only import append_only_trigger


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_audit_log")]

    operations = [
        append_only_trigger(
            table="audit_auditentry",
            function="audit_entry_append_only",
            trigger="audit_auditentry_append_only",
            sqlite_trigger="audit_auditentry_no_update",
            message="audit entries are append-only",
        )
    ]
