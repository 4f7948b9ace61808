from django.apps import AppConfig


class CoreConfig(AppConfig):
    """Building blocks every app shares and none owns: output serializers, raw reads, cursor
    pagination, the API's error mapping, request guards, the Jinja2 environment and the server
    runner. It imports no app of this project."""

    name = "core"
