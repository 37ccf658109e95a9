from django.contrib import admin

from accounts.admin import TenantScopedAdmin
from gamify.widgets.models import WidgetSettings


@admin.register(WidgetSettings)
class WidgetSettingsAdmin(TenantScopedAdmin):
    list_display = ["tenant", "anonymize_others"]
    fields = ["tenant", "anonymize_others"]
