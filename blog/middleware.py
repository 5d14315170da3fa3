"""Middleware of Kabar's own."""

from urllib.parse import unquote_plus

from django.http import HttpResponseBadRequest


class RefuseNulMiddleware:
    """Answer 400 to a request with a NUL character in its path, query string or cookies.

    No address of the site has one, and a NUL reaching a database look-up is an error on
    PostgreSQL (its text cannot hold NUL): refusing it here keeps every view, the admin
    and the session store from having to.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        query = unquote_plus(request.META.get("QUERY_STRING", ""))
        if "\x00" in request.path_info or "\x00" in query or any("\x00" in v for v in request.COOKIES.values()):
            return HttpResponseBadRequest(
                "Bad request: a NUL character in the address or a cookie.", content_type="text/plain; charset=utf-8"
            )
        return self.get_response(request)
