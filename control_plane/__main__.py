"""``python -m control_plane``: serve the control plane with settings from ``GRANARY_CP_*``."""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI

from control_plane.api.app import create_app
from control_plane.settings import ControlPlaneSettings
from tenancy import logs


def server_config(app: FastAPI, settings: ControlPlaneSettings, **overrides) -> uvicorn.Config:
    """How uvicorn serves the app. ``proxy_headers=False``: uvicorn's default believes
    ``X-Forwarded-For`` from any loopback peer; the app applies ``trusted_proxies`` itself."""
    options = {"host": settings.api_host, "port": settings.api_port, "log_level": "info", **overrides}
    # log_config=None: uvicorn's records go to the root logger, in JSON (``tenancy.logs``)
    return uvicorn.Config(app, proxy_headers=False, log_config=None, **options)


def main() -> None:
    settings = ControlPlaneSettings()
    logs.configure(settings.log_level, "control-plane")
    uvicorn.Server(server_config(create_app(settings), settings)).run()


if __name__ == "__main__":
    main()
