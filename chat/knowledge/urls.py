"""Pages of the knowledge base, included from ``portal.urls`` at ``knowledge/``."""

from django.urls import path

from chat.knowledge import views

urlpatterns = [
    path("", views.documents, name="knowledge"),
    path("<uuid:code>/", views.document, name="knowledge_document"),
    path("<uuid:code>/delete/", views.document_delete, name="knowledge_document_delete"),
]
