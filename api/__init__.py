"""The REST API for integrations: FastAPI on top of Prefect deployments and the artifact store.

``api.app.create_app()`` builds it; ``novaavatar api`` (or ``make up``) serves it on
127.0.0.1. OpenAPI docs are at ``/docs``. Nothing is imported here, so flows can use
:mod:`api.webhooks` without loading FastAPI.
"""
