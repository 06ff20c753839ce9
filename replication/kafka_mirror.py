"""Feature data replication: MirrorMaker 2 copies a home region's group topics into a standby.

One MirrorMaker 2 process (dedicated mode, ``ops/kafka-mirror.sh``) runs per *target*
region and runs every flow into it; this module writes its ``mm2.properties`` from
:class:`MirrorFlow` values, so no configuration is kept by hand. Why MirrorMaker 2 and
why :data:`REPLICATION_POLICY` is in ``replication/README.md``; in short:

* a mirrored topic is named ``{home region}.{topic}`` (``Layout.mirrored_group_topic``):
  a standby can never mirror it back home, so two regions homing different tenants can
  mirror both ways without loops;
* order is kept per partition (group topics have one), offsets are not: the checkpoint
  connector translates committed offsets (conservatively: a consumer that moves regions
  reads some records twice, which the materializer's upserts absorb);
* the copy is at least once unless ``exactly_once`` (KIP-618 transactions on the
  target); a consumer that changes region is at least once either way.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from kafka import KafkaAdminClient, TopicPartition

from data_plane.ingest.topics import MAX_MESSAGE_BYTES

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "ops" / "kafka-mirror.sh"

#: Names mirrored topics ``{source alias}.{topic}`` and refuses to mirror a topic back to
#: the cluster its name says it came from (IdentityReplicationPolicy keeps names and
#: cannot tell a cycle).
REPLICATION_POLICY = "org.apache.kafka.connect.mirror.DefaultReplicationPolicy"

#: Largest record MirrorMaker must carry: a group topic's ``max.message.bytes``.
MAX_RECORD_BYTES = MAX_MESSAGE_BYTES


@dataclass(frozen=True)
class Cluster:
    """One region's Kafka as MirrorMaker knows it: the alias is the region's name, and
    becomes the prefix of the topics mirrored out of it."""

    alias: str
    bootstrap: str


@dataclass(frozen=True)
class MirrorFlow:
    """Copy the topics of ``source`` whose whole name matches ``topics`` (a Java regex,
    e.g. ``Layout.group_topic_pattern``) into ``target``."""

    source: Cluster
    target: Cluster
    topics: str
    #: Consumer groups whose committed offsets are translated into ``target``.
    groups: str = ".*"


@dataclass(frozen=True)
class MirrorSettings:
    """How often MirrorMaker looks, in seconds, and how it copies.

    MirrorMaker's defaults (10 minutes to notice a new topic or group, 60 s between
    checkpoints) suit a few long-lived topics; a feature group gets a topic when it is
    created and must be mirrored before its first insert is.
    """

    refresh_seconds: float = 1.0
    checkpoint_seconds: float = 1.0
    #: Copies of each mirrored and internal topic (a single-broker region has 1).
    replication_factor: int = 1
    #: KIP-618: the target writes each batch and its source offsets in one transaction,
    #: so a MirrorMaker restart never duplicates records; readers use read_committed.
    exactly_once: bool = False


def mirror_properties(flows: Iterable[MirrorFlow], settings: MirrorSettings | None = None) -> dict[str, str]:
    """The ``mm2.properties`` of one MirrorMaker process running ``flows``."""
    settings = settings or MirrorSettings()
    flows = list(flows)
    clusters: dict[str, Cluster] = {}
    for flow in flows:
        for cluster in (flow.source, flow.target):
            if clusters.setdefault(cluster.alias, cluster) != cluster:
                raise ValueError(f"cluster alias {cluster.alias!r} names two bootstrap addresses")
    rf = str(settings.replication_factor)
    props: dict[str, str] = {
        "clusters": ", ".join(clusters),
        "replication.policy.class": REPLICATION_POLICY,
        # every topic MirrorMaker makes, in the target and (offset syncs) the source
        "replication.factor": rf,
        "checkpoints.topic.replication.factor": rf,
        "heartbeats.topic.replication.factor": rf,
        "offset-syncs.topic.replication.factor": rf,
        "config.storage.replication.factor": rf,
        "offset.storage.replication.factor": rf,
        "status.storage.replication.factor": rf,
        "refresh.topics.interval.seconds": _seconds(settings.refresh_seconds),
        "refresh.groups.interval.seconds": _seconds(settings.refresh_seconds),
        # topic configs (max.message.bytes above all) follow the source's
        "sync.topic.configs.interval.seconds": _seconds(settings.refresh_seconds),
        "emit.checkpoints.interval.seconds": _seconds(settings.checkpoint_seconds),
        "emit.heartbeats.interval.seconds": _seconds(settings.checkpoint_seconds),
        # write translated offsets into the target's own group offsets, so a consumer
        # that moves there resumes near where it stopped instead of at the start
        "sync.group.offsets.enabled": "true",
        "sync.group.offsets.interval.seconds": _seconds(settings.checkpoint_seconds),
        # an offset sync for every record copied: translation is then exact up to the
        # last sync, not up to 100 records (offset.lag.max's default) behind it
        "offset.lag.max": "0",
        # the source task's own position, committed this often (ms): a restart re-copies
        # at most this much (exactly_once: nothing)
        "offset.flush.interval.ms": "1000",
        # the connectors' jars declare themselves: no scan of the whole classpath at start
        "plugin.discovery": "service_load",
        # no ACL authorizer in our regions: syncing ACLs only logs errors
        "sync.topic.acls.enabled": "false",
    }
    if settings.exactly_once:
        props["exactly.once.source.support"] = "enabled"
    for alias, cluster in clusters.items():
        props[f"{alias}.bootstrap.servers"] = cluster.bootstrap
        # group topics carry whole insert batches (up to the topic's max.message.bytes)
        props[f"{alias}.producer.max.request.size"] = str(MAX_RECORD_BYTES)
        props[f"{alias}.consumer.max.partition.fetch.bytes"] = str(MAX_RECORD_BYTES)
        props[f"{alias}.consumer.fetch.max.bytes"] = str(MAX_RECORD_BYTES)
    for flow in flows:
        arrow = f"{flow.source.alias}->{flow.target.alias}"
        props[f"{arrow}.enabled"] = "true"
        props[f"{arrow}.topics"] = flow.topics
        props[f"{arrow}.groups"] = flow.groups
    return props


def render(props: Mapping[str, str]) -> str:
    """Java properties text (values here never hold characters that need escaping)."""
    lines = ["# written by replication/kafka_mirror.py: edits are overwritten"]
    lines += [f"{key} = {value}" for key, value in props.items()]
    return "\n".join(lines) + "\n"


class MirrorMaker:
    """The MirrorMaker 2 process of one target region (``ops/kafka-mirror.sh``).

    Its state (config, pid, log) lives in ``.regions/<target>/mirror/``; ``start`` is
    idempotent, ``stop`` safe to repeat.
    """

    def __init__(self, target: str, flows: Iterable[MirrorFlow], settings: MirrorSettings | None = None):
        self.target = target
        self.flows = list(flows)
        if any(flow.target.alias != target for flow in self.flows):
            raise ValueError(f"MirrorMaker of region {target!r} runs only flows into {target!r}")
        self.settings = settings or MirrorSettings()
        regions = Path(os.environ.get("GRANARY_OPS_REGIONS", REPO / ".regions"))
        self.config_path = regions / target / "mirror" / "mm2.properties"

    def start(self, timeout: float = 180) -> None:
        """Run the flows; a process already running other flows is restarted with these
        (MirrorMaker reads its config once, at start)."""
        config = render(mirror_properties(self.flows, self.settings))
        self.config_path.parent.mkdir(parents=True, exist_ok=True)
        current = self.config_path.read_text() if self.config_path.exists() else None
        if current != config and self.running():
            self.stop()
        self.config_path.write_text(config)
        self._run("start", str(self.config_path), self.target, timeout=timeout)

    def stop(self) -> None:
        self._run("stop", timeout=60)

    def running(self) -> bool:
        return self._run("status", check=False, timeout=30).returncode == 0

    def _run(
        self, action: str, *args: str, check: bool = True, timeout: float
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["bash", str(SCRIPT), action, self.target, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise RuntimeError(
                f"ops/kafka-mirror.sh {action} {self.target} failed (exit {result.returncode}):\n"
                f"{(result.stdout + result.stderr)[-3000:]}"
            )
        return result


def translated_offsets(target_bootstrap: str, group: str) -> dict[TopicPartition, int]:
    """The offsets ``group`` has in the target region, as MirrorMaker translated them from
    the home region (keys are the *mirrored* topics' partitions; next offset to read)."""
    admin = KafkaAdminClient(bootstrap_servers=target_bootstrap, client_id="granary-mirror-offsets")
    try:
        offsets = admin.list_group_offsets(group).get(group, {})
    finally:
        admin.close()
    return {tp: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}


def _seconds(value: float) -> str:
    """MirrorMaker's ``*.interval.seconds`` are whole seconds (at least 1)."""
    return str(max(1, round(value)))
