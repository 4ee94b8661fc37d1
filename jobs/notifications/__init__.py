"""Notifications (tenant schema): what happened to a workset, by email, signed webhooks, Slack and Linear.

The execution engine calls ``services.notify(event, workset=..., **details)`` inside its transactions; each
matching channel (and each email recipient) gets a ``Delivery`` row, sent after commit by
``tasks.deliver_notification_task``. A sub-app of ``jobs`` with its own label, like ``jobs.catalog``.
"""
