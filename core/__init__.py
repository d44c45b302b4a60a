"""The app factory. core/ imports nothing from the feature packages at import time."""
from __future__ import annotations

import logging
import os
import secrets

from flask import Flask, has_request_context, request

from . import config as config_mod
from . import vocabulary
from .errors import register_error_handlers
from .extensions import babel, csrf, db, htmx, login_manager, migrate

LANGUAGES = ("en", "hi", "ta")
LANGUAGE_NAMES = {"en": "English", "hi": "हिन्दी", "ta": "தமிழ்"}  # each in its own script, for the switcher


def _secret_key(app: Flask) -> str:
    """SECRET_KEY from the environment, else a per-install key file under instance/."""
    if app.config.get("SECRET_KEY"):
        return app.config["SECRET_KEY"]
    path = os.path.join(app.instance_path, "secret_key")
    if not os.path.exists(path):
        os.makedirs(app.instance_path, exist_ok=True)
        with open(path, "w") as fh:
            fh.write(secrets.token_hex(32))
        os.chmod(path, 0o600)
    with open(path) as fh:
        return fh.read().strip()


def _load_user(user_id: str):
    from .models import User

    user = db.session.get(User, int(user_id)) if user_id.isdigit() else None
    return user if user is not None and user.active else None


def select_locale() -> str | None:
    """``?lang=`` on this request, then the language chosen with the switcher (session), then
    Accept-Language, then English. Unknown codes are ignored."""
    from flask import session

    if not has_request_context():  # a worker or a command: the default, unless force_locale says
        return None

    for chosen in (request.args.get("lang"), session.get("lang")):
        if chosen in LANGUAGES:
            return chosen
    return request.accept_languages.best_match(LANGUAGES) or "en"


def create_app(config: dict | None = None) -> Flask:
    root = str(config_mod.ROOT)
    app = Flask(__name__, instance_path=str(config_mod.INSTANCE),
                template_folder=os.path.join(root, "templates"),
                static_folder=os.path.join(root, "static"))
    app.config.update(config_mod.load(config))
    app.config["SECRET_KEY"] = _secret_key(app)
    if app.config["TRUSTED_PROXIES"] > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)  # a line per CSS parse otherwise

    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(root, "migrations"))
    login_manager.init_app(app)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale,
                   default_translation_directories=os.path.join(root, "translations"))
    htmx.init_app(app)
    from flask_babel import get_locale

    app.jinja_env.globals["get_locale"] = get_locale
    app.jinja_env.globals["ui_languages"] = tuple(LANGUAGE_NAMES.items())
    app.jinja_env.filters["translated"] = vocabulary.translated
    app.jinja_env.filters["translated_list"] = vocabulary.translated_list
    login_manager.user_loader(_load_user)
    login_manager.login_view = "core.login"

    if app.config.get("REDIS_URL"):
        import redis

        app.extensions["redis"] = redis.Redis.from_url(app.config["REDIS_URL"])
    else:
        app.extensions["redis"] = None

    register_error_handlers(app)

    from . import cli, views
    from .notify import views as notify_views

    app.register_blueprint(views.bp)
    app.register_blueprint(notify_views.bp)
    cli.register(app)

    from certify import bp as certify_bp
    from certify import cli as certify_cli
    from facility import bp as facility_bp
    from portal import bp as portal_bp

    app.register_blueprint(certify_bp)
    certify_cli.register(app)
    app.register_blueprint(portal_bp)
    app.register_blueprint(facility_bp)
    # Source systems authenticate with bearer tokens, not cookies: no CSRF there.
    csrf.exempt(views.token)
    csrf.exempt(certify_bp)
    csrf.exempt(notify_views.bp)  # Twilio signs its callbacks (X-Twilio-Signature)
    return app
