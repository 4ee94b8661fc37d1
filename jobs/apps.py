from django.apps import AppConfig
from django.db.models.signals import post_delete


class JobsConfig(AppConfig):
    name = "jobs"

    def ready(self):
        from jobs.models import Workset
        from jobs.queue import forget_deleted

        post_delete.connect(forget_deleted, sender=Workset, dispatch_uid="jobs.queue.forget_deleted")
