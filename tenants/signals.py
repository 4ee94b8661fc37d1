from allauth.account.models import EmailAddress
from allauth.account.signals import password_reset
from django.dispatch import receiver


@receiver(password_reset)
def verify_email_on_password_reset(sender, request, user, **kwargs):
    """Following the emailed reset (or invite) link proves the address: no second verification mail."""
    EmailAddress.objects.filter(user=user, email__iexact=user.email).update(verified=True)
