from django.contrib import admin

from dam.admin import assets, collections, review, tokens, webhooks  # noqa: F401

admin.site.site_header = "BrandForge"
admin.site.site_title = "BrandForge"
admin.site.index_title = "Brand library"
