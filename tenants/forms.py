from django import forms
from django.core.exceptions import ValidationError

from tenants.models import Role


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What will use it, e.g. “CI pipeline”.")
    expires_in_days = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=3650,
        label="Expires in (days)",
        help_text="Leave empty for a token that does not expire.",
    )


class InviteForm(forms.Form):
    email = forms.EmailField()
    role = forms.ChoiceField(choices=Role.choices, initial=Role.MEMBER)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


def add_validation_errors(form: forms.Form, error: ValidationError) -> None:
    """Show a service's ValidationError on the form: per field where it names one, else on top."""
    if hasattr(error, "error_dict"):
        for field, errors in error.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error.messages)


class SignupForm(forms.Form):
    """Self-service sign-up. The service validates slug, email and password; the form only pairs them."""

    organisation = forms.CharField(max_length=100, label="Organisation name")
    slug = forms.CharField(
        max_length=40,
        label="Workspace address",
        help_text="Lowercase letters, digits and hyphens; your workspace lives at <address>.<domain>.",
    )
    email = forms.EmailField(label="Your email")
    password1 = forms.CharField(label="Password", widget=forms.PasswordInput(render_value=False))
    password2 = forms.CharField(label="Password again", widget=forms.PasswordInput(render_value=False))

    def clean(self):
        cleaned = super().clean()
        first, second = cleaned.get("password1"), cleaned.get("password2")
        if first and second and first != second:
            self.add_error("password2", "The two passwords differ.")
        return cleaned
