from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from core import jobs
from core.errors import NotFound, ValidationError
from core.roles import roles_required

from . import bp

# --- System admin: runtime configuration --------------------------------------------------

def _editable_keys() -> list[tuple[str, int]]:
    from certify import config_store

    versions = config_store.active_versions()
    keys = sorted(set(config_store.FIXED_KEYS) | {"template:vaccination", "template:test"} | set(versions))
    return [(k, versions.get(k, 0)) for k in keys]


def _require_key(key: str) -> str:
    from certify import config_store

    if not config_store.is_known_key(key):
        raise NotFound(_("Unknown configuration key."))
    return key


@bp.get("/admin/config")
@roles_required("system_admin")
def config_list():
    return render_template("facility/admin/config_list.html", keys=_editable_keys())


def _render_editor(key: str, content: str, error: str | None = None, status: int = 200):
    from certify import config_store

    _, version = config_store.current_content(key)
    history = config_store.history(key)
    return render_template("facility/admin/config_edit.html", key=key, content=content, version=version,
                           history=history, authors=_author_labels(history), error=error,
                           is_template=key.startswith("template:")), status


def _author_labels(history) -> dict[str, str]:
    """'user:7' → the person's name and the last digits of their number, for the history table."""
    from sqlalchemy import select

    from core.extensions import db
    from core.models import User

    ids = {int(r.author[5:]) for r in history if r.author.startswith("user:") and r.author[5:].isdigit()}
    if not ids:
        return {}
    labels = {}
    for user in db.session.scalars(select(User).where(User.id.in_(ids))):
        who = user.name or _("User %(id)d", id=user.id)
        labels[f"user:{user.id}"] = f"{who} (…{user.mobile[-4:]})"
    return labels


@bp.get("/admin/config/<path:key>")
@roles_required("system_admin")
def config_edit(key: str):
    from certify import config_store

    key = _require_key(key)
    return _render_editor(key, config_store.current_content(key)[0])


@bp.post("/admin/config/<path:key>/preview")
@roles_required("system_admin")
def config_preview(key: str):
    """htmx: render the unsaved template with sample data and show page 1 as an image."""
    import base64

    from certify import config_store

    key = _require_key(key)
    content = request.form.get("content", "")
    try:
        config_store.validate(key, content)
        image = None
        if key.startswith("template:"):
            image = base64.b64encode(config_store.preview_png(key, content)).decode()
        result = {"ok": True, "image": image}
    except ValidationError as exc:
        result = {"ok": False, "error": exc.fields[0].reason if exc.fields else exc.message}
    finally:
        jobs.rollback()  # a preview never saves anything
    return render_template("facility/admin/_config_preview.html", result=result)


@bp.post("/admin/config/<path:key>/publish")
@roles_required("system_admin")
def config_publish(key: str):
    from certify import config_store

    key = _require_key(key)
    content = request.form.get("content", "")
    try:
        row = config_store.publish(key, content, author=f"user:{current_user.id}",
                                   comment=request.form.get("comment", ""))
        jobs.commit()
    except ValidationError as exc:
        jobs.rollback()
        return _render_editor(key, content, exc.fields[0].reason if exc.fields else exc.message, 400)
    flash(_("Published version %(version)d of %(key)s.", version=row.version, key=key))
    return redirect(url_for("facility.config_edit", key=key))


@bp.post("/admin/config/<path:key>/rollback/<int:version>")
@roles_required("system_admin")
def config_rollback(key: str, version: int):
    from certify import config_store

    key = _require_key(key)
    config_store.rollback(key, version, author=f"user:{current_user.id}")
    jobs.commit()
    flash(_("Version %(version)d of %(key)s is active again.", version=version, key=key))
    return redirect(url_for("facility.config_edit", key=key))
