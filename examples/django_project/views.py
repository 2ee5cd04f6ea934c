"""The product's one view: its home page, and its own login callback for ordinary sign-ins."""

from django.http import HttpRequest, HttpResponse
from django.utils.html import escape


def product(request: HttpRequest) -> HttpResponse:
    if request.path == "/callback":  # ordinary sign-ins (no registration token) still arrive here
        code = escape(request.GET.get("code", "")[:8])
        return HttpResponse(f"<h1>Example product (Django)</h1><p>Signed in with code {code}…</p>")
    return HttpResponse("<h1>Example product (Django)</h1><p>Welcome. Your AWS Marketplace purchase is linked.</p>")
