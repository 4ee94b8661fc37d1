from django.urls import path

from chat import views

urlpatterns = [
    path("", views.chat, name="chat"),
    path("<uuid:code>/", views.chat, name="chat_conversation"),
    path("<uuid:code>/rename", views.rename, name="chat_rename"),
    path("<uuid:code>/delete", views.delete, name="chat_delete"),
]
