"""Role checks for pages: anonymous users go to sign-in, signed-in users without the role get 403."""
from __future__ import annotations

import functools
from typing import Any, Callable

from flask import abort, redirect, request, url_for
from flask_login import current_user

ROLES = ("system_admin", "program_admin", "facility_admin", "facility_staff", "vaccinator",
         "certificate_printer")


def roles_required(*roles: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Require a signed-in user; with ``roles``, one of them."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                purpose = "portal" if not roles else "facility"
                return redirect(url_for("core.login", next=request.full_path, purpose=purpose))
            if roles and not current_user.has_role(*roles):
                abort(403)
            return view(*args, **kwargs)

        wrapper.required_roles = roles  # type: ignore[attr-defined]  (the role-matrix test reads it)
        return wrapper

    return decorator
