"""Run a data plane service: ``python -m data_plane api|flight|materializer|all``.

Settings come from ``GRANARY_*`` variables (``source .regions/NAME/env``). ``all``
runs the three in one process (threads) for a laptop; production runs them apart, in
any order or all at once: each migrates the metadata database first, serialized by a
PostgreSQL advisory lock. ``migrate`` only migrates, for a deploy step that wants the
schema at head before any service starts.
``create-key PROJECT`` prints a new operator API key for a project; tenants' keys come
from the control plane (``GRANARY_CONTROL_PLANE_URL``). With a control plane the
materializer also reports each project's sizes to it.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading


def _api(settings, region) -> None:
    import gc

    import uvicorn

    from data_plane.api.app import create_app

    app = create_app(settings, region)
    # What exists now lives as long as the process: take it out of the cyclic collector's
    # reach, so a full collection during a request scans only young objects, not the
    # whole app (a latency tail on the vectors route).
    gc.collect()
    gc.freeze()
    # uvloop and httptools named, not auto-detected: without them, start-up fails instead
    # of the latency budget quietly doubling.
    uvicorn.run(
        app,
        host=settings.api_host,
        port=settings.api_port,
        loop="uvloop",
        http="httptools",
        log_config=None,
        access_log=False,
    )


def _flight(settings, region, block: bool = True):
    from data_plane.flight.server import GranaryFlightServer

    server = GranaryFlightServer(region, f"grpc://{settings.flight_host}:{settings.flight_port}")
    if block:
        server.serve()
    return server


def _materializer(settings, region, stop: threading.Event) -> None:
    from prometheus_client import start_http_server

    from data_plane.ingest.materializer import Materializer

    if settings.materializer_metrics_port:
        start_http_server(settings.materializer_metrics_port, addr=settings.api_host)
    if region.control_plane is not None:
        from data_plane.usage import UsageReporter

        reporter = UsageReporter(region)
        threading.Thread(target=reporter.run, args=(stop,), daemon=True, name="usage").start()
    if settings.heartbeat_ms and region.metadata.dialect.name == "postgresql":
        from data_plane import heartbeat

        args = (region.metadata, settings.region_id, settings.heartbeat_ms / 1000, stop)
        threading.Thread(target=heartbeat.run, args=args, daemon=True, name="heartbeat").start()
    Materializer(region).run(stop)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m data_plane")
    parser.add_argument("service", choices=["api", "flight", "materializer", "all", "migrate", "create-key"])
    parser.add_argument("project", nargs="?", help="for create-key")
    args = parser.parse_args(argv)

    from data_plane.region import Region, migrate_metadata
    from data_plane.settings import DataPlaneSettings
    from tenancy import logs

    settings = DataPlaneSettings()
    logs.configure(settings.log_level, args.service)
    if settings.test_only_break:
        logging.getLogger("data_plane").error(
            "GRANARY_TEST_ONLY_BREAK=%s: this data plane is broken on purpose (drill tests only)",
            settings.test_only_break,
        )
    if args.service == "migrate":
        from sqlalchemy import create_engine

        engine = create_engine(settings.pg_url)
        migrate_metadata(engine)
        engine.dispose()
        return 0
    region = Region(settings)
    if args.service == "create-key":
        if not args.project:
            parser.error("create-key needs a PROJECT")
        _, key = region.keys.create_key(args.project)
        print(key)
        return 0

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: (stop.set(), sys.exit(0)))
    if args.service == "api":
        _api(settings, region)
    elif args.service == "flight":
        _flight(settings, region)
    elif args.service == "materializer":
        _materializer(settings, region, stop)
    else:
        server = _flight(settings, region, block=False)
        threading.Thread(target=server.serve, daemon=True, name="flight").start()
        threading.Thread(target=_materializer, args=(settings, region, stop), daemon=True).start()
        _api(settings, region)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
