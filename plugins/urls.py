"""The site's own pages for plugins: list, register, detail, edit, sync and delete."""

from django.urls import path

from plugins.views import actions, editing, listing

app_name = "plugins"

urlpatterns = [
    path("", listing.plugin_list, name="list"),
    path("new/", editing.plugin_register_page, name="register"),
    path("<uuid:pk>/", listing.plugin_detail, name="detail"),
    path("<uuid:pk>/edit/", editing.plugin_edit_page, name="edit"),
    path("<uuid:pk>/sync/", actions.plugin_sync_page, name="sync"),
    path("<uuid:pk>/delete/", actions.plugin_delete_page, name="delete"),
]
