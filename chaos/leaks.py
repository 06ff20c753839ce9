"""What a drill may leave behind, checked after it deleted its tenant: topics of its
feature group in any region's Kafka (the group's own or a mirrored copy), objects under
its project's prefixes in any region's S3, online rows under its key prefix in any
region's Redis, and processes of the world's kinds that were
not running before it."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

import boto3
import redis
from kafka import KafkaAdminClient

from chaos.world import World

#: The world's processes, by a string of their command line.
KINDS = {
    "data plane": "-m data_plane",
    "control plane": "-m control_plane",
    "kafka": "kafka.Kafka",
    "mirror maker": "connect.mirror.MirrorMaker",
    "postgres": "bin/postgres",
    "redis": "redis-server",
    "s3": "versitygw",
    "network": "toxiproxy",
}


def processes(world: World) -> Counter[str]:
    """How many processes of each kind the world runs now: those whose command line or
    working directory is in one of its regions' (or its control plane's) folders, or
    whose environment names one of its regions, or its network."""
    folders = [f"{world.regions_dir / name}/" for name in [*world.planes, world.cp]]
    regions = [f"GRANARY_REGION_ID={name}".encode() for name in world.planes]
    network_port = f"-port {world.network.url.rsplit(':', 1)[1]}"
    control_plane = f"GRANARY_CP_PUBLIC_URL={world.control_plane}".encode()
    found: Counter[str] = Counter()
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            line = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            where = f"{os.readlink(proc / 'cwd')}/"
            environ = (proc / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        ours = (
            any(folder in line or where.startswith(folder) for folder in folders)
            or any(region in environ for region in regions)
            or network_port in line
            or ("-m control_plane" in line and control_plane in environ)
        )
        if ours:
            for kind, marker in KINDS.items():
                if marker in line:
                    found[kind] += 1
    return found


def processes_left(before: Counter[str], after: Counter[str]) -> list[str]:
    return [
        f"{after[kind] - before[kind]} more {kind} processes than before the drill"
        for kind in KINDS
        if after[kind] > before[kind]
    ]


def _kafka(world: World, region: str) -> KafkaAdminClient:
    return KafkaAdminClient(
        bootstrap_servers=world.env[region]["GRANARY_KAFKA_BOOTSTRAP"], client_id="granary-drill"
    )


def _topics(admin: KafkaAdminClient, group_id: str) -> list[str]:
    return [topic for topic in admin.list_topics() if topic.endswith(group_id)]


def topics_left(world: World, group_id: str) -> list[str]:
    left = []
    for region in world.planes:
        admin = _kafka(world, region)
        try:
            left += [f"topic {topic} in {region}" for topic in _topics(admin, group_id)]
        finally:
            admin.close()
    return left


def s3_client(world: World, region: str) -> tuple[Any, str]:
    """The region's S3 client and the bucket its data plane keeps everything in."""
    env = world.env[region]
    client = boto3.client(
        "s3",
        endpoint_url=env["GRANARY_S3_ENDPOINT"],
        aws_access_key_id=env["GRANARY_S3_ACCESS_KEY"],
        aws_secret_access_key=env["GRANARY_S3_SECRET_KEY"],
        region_name=env["GRANARY_S3_REGION"],
    )
    return client, env.get("GRANARY_S3_BUCKET", "granary")


def _objects(world: World, region: str, prefixes: list[str]) -> list[str]:
    """Keys under the project's prefixes (key prefixes in the region's bucket)."""
    s3, bucket = s3_client(world, region)
    keys = []
    for prefix in prefixes:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            keys += [f"{bucket}/{o['Key']}" for o in page.get("Contents", [])]
    return keys


def count_objects(world: World, region: str, prefixes: list[str]) -> int:
    return len(_objects(world, region, prefixes))


def objects_left(world: World, prefixes: list[str]) -> list[str]:
    """Objects under the project's prefixes in any region's S3."""
    return [
        f"object {key} in {region}" for region in world.planes for key in _objects(world, region, prefixes)
    ]


def online_left(world: World, key_prefix: str) -> list[str]:
    """Online rows (Redis keys) under the project's key prefix in any region."""
    left = []
    for region in world.planes:
        client = redis.Redis.from_url(world.env[region]["GRANARY_REDIS_URL"])
        try:
            keys = list(client.scan_iter(match=f"{key_prefix}*", count=1000))
        finally:
            client.close()
        left += [f"{len(keys)} online keys under {key_prefix} in {region}"] if keys else []
    return left
