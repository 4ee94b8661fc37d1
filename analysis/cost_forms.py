"""Forms of the cost data pages: an upload to ingest, an operator's rate, a team's budget."""

from django import forms

from analysis.cost_listing import GPU_CHOICES, PROVIDER_CHOICES
from analysis.models.costs import IngestKind


class CostUploadForm(forms.Form):
    kind = forms.ChoiceField(
        label="What the file holds",
        choices=IngestKind.choices,
        initial=IngestKind.JOBS,
        help_text="Teams and jobs: JSON, JSON Lines or CSV. "
        "Rates: CSV of date, provider, gpu_type, usd_per_gpu_hour.",
    )
    file = forms.FileField(label="File")


class RateForm(forms.Form):
    day = forms.DateField(label="Day (UTC)", widget=forms.DateInput(attrs={"type": "date"}))
    provider = forms.ChoiceField(choices=PROVIDER_CHOICES)
    gpu_type = forms.ChoiceField(label="GPU type", choices=GPU_CHOICES)
    usd_per_gpu_hour = forms.DecimalField(
        label="US dollars per GPU-hour", max_digits=12, decimal_places=4, min_value=0
    )


class BudgetForm(forms.Form):
    budget_usd = forms.DecimalField(
        label="Monthly budget (US dollars)",
        required=False,
        max_digits=14,
        decimal_places=2,
        min_value=0,
        help_text="Empty: no budget.",
    )
