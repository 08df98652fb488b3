"""Folio's web app and HTTP API: `create_app(settings)` in web.app.

Routers (web/routes) are thin: they parse the request, check access and call the services in
web/services, which hold the behaviour and are tested through the HTTP surface.
"""
