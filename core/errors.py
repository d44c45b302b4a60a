"""The domain exception tree, mapped to HTTP in one place.

API paths answer ``{"error": {"code", "message", "fields": [{"path", "reason"}]}}``;
pages answer with templates/errors/<status>.html.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

API_PREFIXES = ("/v1/", "/v3/", "/oauth/", "/certificate/api/", "/api/", "/.well-known/")


@dataclass(frozen=True)
class FieldError:
    path: str
    reason: str


class AppError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, fields: list[FieldError] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or []


class ValidationError(AppError):
    status = 400
    code = "validation_failed"


class Unauthorized(AppError):
    status = 401
    code = "unauthorized"


class Forbidden(AppError):
    status = 403
    code = "forbidden"


class NotFound(AppError):
    status = 404
    code = "not_found"


class Conflict(AppError):
    status = 409
    code = "conflict"


def is_api_request() -> bool:
    return request.path.startswith(API_PREFIXES)


def error_body(code: str, message: str, fields: list[FieldError] | None = None) -> dict:
    return {"error": {"code": code, "message": message,
                      "fields": [{"path": f.path, "reason": f.reason} for f in fields or []]}}


def page_message(status: int, csrf: bool = False) -> str:
    """What a person reads on an error page, in their language (not Werkzeug's technical text)."""
    if csrf:
        return _("This form has expired. Go back, reload the page and try again.")
    messages = {
        400: _("The request could not be understood. Go back and try again."),
        401: _("Please sign in to see this page."),
        403: _("You do not have access to this page."),
        404: _("This page does not exist. Check the address, or start again from the home page."),
        405: _("This page cannot be used that way. Start again from the home page."),
        413: _("The file or form is too large."),
        429: _("Too many requests. Please wait a minute and try again."),
    }
    return messages.get(status) or _("Something went wrong on our side. Please try again in a few minutes.")


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(AppError)
    def _app_error(exc: AppError):
        if is_api_request():
            resp = jsonify(error_body(exc.code, exc.message, exc.fields))
            resp.status_code = exc.status
            if exc.status == 401:
                resp.headers["WWW-Authenticate"] = 'Bearer realm="divoc"'
            return resp
        return render_template("errors/error.html", status=exc.status, message=exc.message), exc.status

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if is_api_request():
            code = (exc.name or "error").lower().replace(" ", "_")
            resp = jsonify(error_body(code, exc.description or exc.name))
            resp.status_code = exc.code or 500
            return resp
        status = exc.code or 500
        message = page_message(status, csrf=isinstance(exc, CSRFError))
        return render_template("errors/error.html", status=status, message=message), status

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        app.logger.exception("unhandled error on %s", request.path)
        if is_api_request():
            resp = jsonify(error_body("internal_error", "Internal server error"))
            resp.status_code = 500
            return resp
        return render_template("errors/error.html", status=500, message=page_message(500)), 500
