from django.db import migrations, models
from django.db.models.functions import Coalesce


def searched_already(apps, schema_editor):
    """Worksets completed before this field existed were searched when they completed."""
    Workset = apps.get_model("jobs", "Workset")
    Workset.objects.filter(state="completed").update(
        profiles_searched_at=Coalesce("finished_at", "state_changed_at")
    )


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0004_workset_run_stopped_at"),
    ]

    operations = [
        migrations.AddField(
            model_name="workset",
            name="profiles_searched_at",
            field=models.DateTimeField(
                blank=True,
                help_text="When its results were searched for profiler output.",
                null=True,
            ),
        ),
        migrations.RunPython(searched_already, migrations.RunPython.noop, elidable=True),
    ]
