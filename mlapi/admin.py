"""The admin site itself: the operators' dashboard on the index, and "View site" going to the customer portal."""

from django.contrib import admin

admin.site.index_template = "admin/mlapi_index.html"
admin.site.site_url = "/"  # the portal (portal.urls is mounted at /)
