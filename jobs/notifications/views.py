"""Notification pages: every member sets their own email preferences; owners and admins manage channels
and read the delivery log. To anyone else, channels and the log do not exist (404)."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST
from rest_framework.request import Request

from jobs.notifications import services
from jobs.notifications.api.views import NewestFirst
from jobs.notifications.forms import ChannelForm, PreferencesForm
from jobs.notifications.models import Channel, Delivery, manages_notifications

LOG_PAGE_SIZE = 50


def _require_manager(request) -> None:
    if not manages_notifications(request.membership):
        raise Http404


def get_channel_for_user(request, code) -> Channel:
    return get_object_or_404(Channel.objects.visible_to(request.membership), code=code)


def notifications(request):
    preferences = services.email_preferences(request.user, request.membership.role)
    form = PreferencesForm(request.POST or None, preferences=preferences)
    if request.method == "POST" and form.is_valid():
        services.set_email_preferences(request.user, form.cleaned_data)
        messages.success(request, "Your email preferences are saved.")
        return redirect("notifications")
    context = {
        "form": form,
        "can_manage": manages_notifications(request.membership),
        "channels": Channel.objects.visible_to(request.membership),
    }
    return render(request, "notifications/notifications.html", context)


def new_channel(request):
    _require_manager(request)
    form = ChannelForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        channel = services.save_channel(form, actor=request.user)
        messages.success(request, f"Channel “{channel.name}” added.")
        return redirect("notification_channel", code=channel.code)
    return render(request, "notifications/channel.html", {"form": form, "channel": None})


def channel(request, code):
    item = get_channel_for_user(request, code)
    form = ChannelForm(request.POST or None, instance=item)
    if request.method == "POST" and form.is_valid():
        services.save_channel(form, actor=request.user)
        messages.success(request, f"Channel “{item.name}” saved.")
        return redirect("notification_channel", code=item.code)
    recent = item.deliveries.all()[:10]
    return render(request, "notifications/channel.html", {"form": form, "channel": item, "recent": recent})


@require_POST
def test_channel(request, code):
    item = get_channel_for_user(request, code)
    services.send_test(item, actor=request.user)
    messages.success(request, f"Test event sent to “{item.name}”; its result shows under Recent deliveries.")
    return redirect("notification_channel", code=item.code)


@require_POST
def toggle_channel(request, code):
    item = get_channel_for_user(request, code)
    services.set_channel_enabled(item, not item.enabled, actor=request.user)
    messages.success(request, f"Channel “{item.name}” {'enabled' if item.enabled else 'disabled'}.")
    return redirect("notifications")


@require_POST
def delete_channel(request, code):
    item = get_channel_for_user(request, code)
    services.delete_channel(item, actor=request.user)
    messages.success(request, f"Channel “{item.name}” deleted; its deliveries stay in the log.")
    return redirect("notifications")


def deliveries(request):
    _require_manager(request)
    rows = Delivery.objects.visible_to(request.membership).select_related("channel")
    paginator = NewestFirst()
    paginator.page_size = LOG_PAGE_SIZE
    page = paginator.paginate_queryset(rows, Request(request))
    context = {
        "deliveries": page,
        "next_page": paginator.get_next_link(),
        "previous_page": paginator.get_previous_link(),
    }
    return render(request, "notifications/deliveries.html", context)
