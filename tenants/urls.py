from django.urls import path

from tenants import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("tokens/", views.tokens, name="tokens"),
    path("tokens/<uuid:code>/revoke/", views.revoke_token, name="revoke_token"),
    path("members/", views.members, name="members"),
    path("members/<uuid:code>/role/", views.change_member_role, name="change_member_role"),
    path("members/<uuid:code>/remove/", views.remove_member, name="remove_member"),
]
