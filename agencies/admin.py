from django.contrib import admin

from agencies.models import Agency, StaffMember

admin.site.register(Agency)
admin.site.register(StaffMember)
