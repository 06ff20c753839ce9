"""One deployment's process: ``python -m data_plane.predictor_host SCRIPT MODEL_DIR PORT``.

It builds the script's ``Predict`` once, then answers ``POST /predict`` (a JSON body
with ``instances`` or ``inputs``, answered with ``{"predictions": ...}``) and
``GET /health`` on loopback only: callers reach it through the data plane's REST API,
which checks their key first (:mod:`data_plane.api.routers.deployments`). The region's
supervisor started it and restarts it if it dies.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from data_plane.deployments import jsonable, load_predictor, request_inputs
from granary_core.errors import GranaryError, InvalidInput


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


def main(argv: list[str]) -> None:
    script, model_dir, port = Path(argv[0]), argv[1], int(argv[2])
    where = f"deployment '{os.environ.get('GRANARY_DEPLOYMENT', script.stem)}'"
    predictor = load_predictor(script, {"MODEL_FILES_PATH": model_dir})
    print(f"{where}: predictor ready, listening on 127.0.0.1:{port}", flush=True)
    uvicorn.run(build_app(predictor, where), host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main(sys.argv[1:])
