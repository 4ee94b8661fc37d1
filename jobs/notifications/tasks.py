"""Celery tasks of notifications: thin, run in the schema they were sent from."""

from django.conf import settings

from portal.celery import app


@app.task(
    name="notifications.deliver_notification_task",
    acks_late=True,
    soft_time_limit=settings.NOTIFICATIONS_HTTP_TIMEOUT * 3,
    time_limit=settings.NOTIFICATIONS_HTTP_TIMEOUT * 3 + 30,
)
def deliver_notification_task(delivery_id: int) -> None:
    """Send one delivery. The service owns the retry policy (it logs each attempt and the next one's time
    on the row), so a retry is a fresh message with that countdown. Running it twice is harmless: only a
    pending row is sent, under a row lock."""
    from jobs.notifications.services import attempt_delivery

    retry_in = attempt_delivery(delivery_id)
    if retry_in is not None:
        deliver_notification_task.apply_async(args=[delivery_id], countdown=retry_in)


@app.task(name="notifications.resend_overdue_task", acks_late=True, time_limit=120)
def resend_overdue_task() -> list[int]:
    """Every few minutes per tenant (beat): deliveries whose message was lost are sent again."""
    from jobs.notifications.services import resend_overdue

    return resend_overdue()
