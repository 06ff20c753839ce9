"""One deployment's process: ``python -m data_plane.predictor_host SCRIPT MODEL_DIR PORT``.

It builds the script's ``Predict`` once, then answers ``POST /predict`` (a JSON body
with ``instances`` or ``inputs``, answered with ``{"predictions": ...}``) and
``GET /health`` on loopback only: callers reach it through the data plane's REST API,
which checks their key first (:mod:`data_plane.api.routers.deployments`). The region's
supervisor started it and restarts it if it dies; it dies with the supervisor.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from data_plane.deployments import jsonable, load_predictor, request_inputs
from granary_core.errors import ChecksumMismatch, GranaryError, InvalidInput


def build_app(predictor: Any, where: str) -> Starlette:
    # one predict at a time, off the event loop: a predictor need not be thread-safe
    lock = asyncio.Lock()

    async def predict(request: Request) -> JSONResponse:
        try:
            body = await request.json()
        except ValueError:
            return JSONResponse(InvalidInput(f"{where}: the body is not JSON").to_dict(), status_code=400)
        try:
            inputs = request_inputs(body, where)
            async with lock:
                result = await asyncio.to_thread(predictor.predict, inputs)
        except GranaryError as exc:
            return JSONResponse(exc.to_dict(), status_code=exc.status)
        except Exception as exc:  # the script's own error: the caller gets its type and text
            message = f"{where}: predict failed: {type(exc).__name__}: {exc}"
            print(message, file=sys.stderr, flush=True)
            return JSONResponse({"code": "predictor_error", "message": message}, status_code=500)
        return JSONResponse({"predictions": jsonable(result)})

    async def health(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return Starlette(routes=[Route("/predict", predict, methods=["POST"]), Route("/health", health)])


def fetch_model(model_dir: Path) -> None:
    """Download the model's files (``GRANARY_MODEL``, ``name:version``) through the data
    plane's REST API with ``GRANARY_API_KEY``, each checked against its SHA-256: a pod on
    Kubernetes starts with no files of its own."""
    name, version = os.environ["GRANARY_MODEL"].split(":")
    base = f"{os.environ['GRANARY_HOST'].rstrip('/')}/api/v1/projects/{os.environ['GRANARY_PROJECT']}/models"
    headers = {"authorization": f"Bearer {os.environ['GRANARY_API_KEY']}"}
    with httpx.Client(headers=headers, timeout=300) as http:
        info = http.get(f"{base}/{name}", params={"version": version}).raise_for_status().json()
        for artifact in info["artifacts"]:
            path = quote(artifact["path"], safe="")
            data = http.get(f"{base}/{name}/versions/{version}/files/{path}").raise_for_status().content
            if hashlib.sha256(data).hexdigest() != artifact["sha256"]:
                raise ChecksumMismatch(f"model '{name}' v{version}: '{artifact['path']}' fails its SHA-256")
            target = model_dir / artifact["path"]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)


def exit_with_parent(parent: int) -> None:
    """Exit once the process that started this one is gone: a data plane killed without
    stopping its deployments leaves no predictor behind, and the next one starts them
    again (:func:`data_plane.deployment_runner.restore`)."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


def main(argv: list[str]) -> None:
    script, model_dir, port = Path(argv[0]), argv[1], int(argv[2])
    threading.Thread(target=exit_with_parent, args=(os.getppid(),), daemon=True).start()
    if not any(Path(model_dir).glob("*")):
        fetch_model(Path(model_dir))
    where = f"deployment '{os.environ.get('GRANARY_DEPLOYMENT', script.stem)}'"
    predictor = load_predictor(script, {"MODEL_FILES_PATH": model_dir})
    print(f"{where}: predictor ready, listening on 127.0.0.1:{port}", flush=True)
    uvicorn.run(build_app(predictor, where), host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main(sys.argv[1:])
