"""Self-service sign-up pages on the public host. All of them answer 404 unless SELF_SERVICE_SIGNUP is on."""

from functools import wraps

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache

from tenants.forms import SignupForm, add_validation_errors
from tenants.models import Signup
from tenants.services import tenant_address
from tenants.services.signup import InvalidSignupLink, register_signup, verify_signup

STEPS = (
    ("verified", "Email verified"),
    ("workspace", "Creating workspace"),
    ("storage", "Bucket and quotas"),
    ("ready", "Ready"),
)
# Per state: how many steps are done, and the progress bar's percentage.
PROGRESS = {
    Signup.State.PENDING: (0, 5),
    Signup.State.QUEUED: (1, 25),
    Signup.State.PROVISIONING: (1, 60),
    Signup.State.READY: (4, 100),
    Signup.State.FAILED: (1, 100),
}


def signup_enabled(view):
    """An operator setting: when it is off the pages do not exist."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not settings.SELF_SERVICE_SIGNUP:
            raise Http404
        return view(request, *args, **kwargs)

    return wrapper


@signup_enabled
def signup(request):
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            created = register_signup(
                organisation=data["organisation"],
                slug=data["slug"],
                email=data["email"],
                password=data["password1"],
            )
        except ValidationError as error:
            add_validation_errors(form, error)
        else:
            return redirect("signup_progress", code=created.code)
    return render(request, "tenants/signup.html", {"form": form, "domain": settings.RUNYARD_BASE_DOMAIN})


@signup_enabled
def signup_verify(request, token):
    try:
        verified = verify_signup(token)
    except InvalidSignupLink as error:
        context = {"message": error.messages[0], "reason": error.code}
        return render(request, "tenants/signup_invalid.html", context, status=400)
    return redirect("signup_progress", code=verified.code)


@signup_enabled
def signup_progress(request, code):
    found = get_object_or_404(Signup, code=code)
    return render(request, "tenants/signup_progress.html", {"signup": found, **progress_of(found)})


@signup_enabled
@never_cache
def signup_status(request, code):
    found = get_object_or_404(Signup, code=code)
    return JsonResponse(progress_of(found))


def progress_of(found: Signup) -> dict:
    done, percent = PROGRESS[Signup.State(found.state)]
    failed = found.state == Signup.State.FAILED
    steps = [
        {"key": key, "label": label, "state": _step_state(index, done, failed)}
        for index, (key, label) in enumerate(STEPS)
    ]
    return {
        "state": found.state,
        "label": Signup.State(found.state).label,
        "percent": percent,
        "steps": steps,
        "error": found.error if failed else "",
        "login_url": _login_url(found) if found.state == Signup.State.READY else "",
        "status_url": reverse("signup_status", kwargs={"code": found.code}),
    }


def _step_state(index: int, done: int, failed: bool) -> str:
    if index < done:
        return "done"
    if index == done:
        return "failed" if failed else "active"
    return "todo"


def _login_url(found: Signup) -> str:
    scheme = "https" if settings.PRODUCTION else "http"
    return f"{scheme}://{tenant_address(found.slug)}/accounts/login/"
