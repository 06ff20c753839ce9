"""``python -m control_plane``: serve the control plane with settings from ``GRANARY_CP_*``."""

from __future__ import annotations

import uvicorn

from control_plane.api.app import create_app
from control_plane.settings import ControlPlaneSettings


def main() -> None:
    settings = ControlPlaneSettings()
    uvicorn.run(create_app(settings), host=settings.api_host, port=settings.api_port, log_level="info")


if __name__ == "__main__":
    main()
