from django.urls import path

from tenants.views import access, activity, billing, files

urlpatterns = [
    path("", access.dashboard, name="dashboard"),
    path("tokens/", access.tokens, name="tokens"),
    path("tokens/<uuid:code>/revoke/", access.revoke_token, name="revoke_token"),
    path("members/", access.members, name="members"),
    path("members/<uuid:code>/role/", access.change_member_role, name="change_member_role"),
    path("members/<uuid:code>/remove/", access.remove_member, name="remove_member"),
    path("usage/", billing.usage, name="usage"),
    path("billing/", billing.invoices, name="invoices"),
    path("billing/<uuid:code>/", billing.invoice, name="invoice"),
    path("billing/<uuid:code>.csv", billing.invoice_csv, name="invoice_csv"),
    path("activity/", activity.activity, name="activity"),
    path("activity.csv", activity.activity_csv, name="activity_csv"),
    path("files/", files.browser, name="files"),
    path("files/link/<str:token>", files.signed_link, name="file_link"),
]
