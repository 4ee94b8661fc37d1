from django import forms

from jobs.notifications.models import SUBSCRIBABLE, Channel


class ChannelForm(forms.ModelForm):
    url = forms.URLField(
        required=False,
        max_length=500,
        assume_scheme="https",
        label="URL",
        help_text="Webhook: your endpoint; Slack: its incoming-webhook URL; Linear: empty for the default",
    )
    events = forms.MultipleChoiceField(
        choices=SUBSCRIBABLE,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every event. Linear opens issues for failed and dead-lettered worksets only.",
    )
    linear_api_key = forms.CharField(
        required=False,
        label="Linear API key",
        widget=forms.PasswordInput(render_value=False),
        help_text="A personal API key from Linear's settings. Leave empty to keep the stored key.",
    )

    class Meta:
        model = Channel
        fields = ["kind", "name", "url", "email", "events", "linear_api_key", "linear_team_id", "enabled"]
        labels = {"linear_team_id": "Linear team id"}
        help_texts = {"linear_team_id": "The UUID of the team new issues go to."}

    def clean_linear_api_key(self) -> str:
        """An empty field keeps the stored key: the form never shows it back."""
        return self.cleaned_data["linear_api_key"] or self.instance.linear_api_key


class PreferencesForm(forms.Form):
    """One checkbox per event: email me about it."""

    def __init__(self, *args, preferences: list[dict], **kwargs):
        super().__init__(*args, **kwargs)
        for row in preferences:
            self.fields[row["event"]] = forms.BooleanField(
                required=False, initial=row["email"], label=row["label"]
            )
