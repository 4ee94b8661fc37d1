from tenants.access import is_public


def tenant(request):
    current = getattr(request, "tenant", None)
    if is_public(current):
        return {"tenant": None, "membership": None}
    return {"tenant": current, "membership": getattr(request, "membership", None)}
