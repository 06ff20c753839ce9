"""Feature data replication lag: a record produced in the home region's group topic, to the
moment a consumer in the standby region receives its MirrorMaker 2 copy.

Needs both regions up (``ops/world up HOME STANDBY``, or ``ops/region up`` each). Runs
MirrorMaker 2 (``replication.kafka_mirror``) for a fresh namespace, warms the flow up with
one record and waits until it is through (a new topic is found within
``refresh.topics.interval.seconds``), then
produces ``--records`` records at ``--rate`` per second, each stamped with its create time
(ms); lag = receive time - create time, on the same host clock. Prints median, p99 and max
and writes ``bench/results/kafka_mirror_lag.json``.

    .venv/bin/python bench/kafka_mirror_lag.py --home eu --standby us --records 1000 --rate 100
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
import uuid
from pathlib import Path

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from data_plane.ingest.topics import Topics
from data_plane.layout import Layout
from replication.kafka_mirror import Cluster, MirrorFlow, MirrorMaker

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results" / "kafka_mirror_lag.json"


def kafka_of(region: str) -> Cluster:
    """The region's Kafka, from the env file ``ops/region up`` wrote."""
    env_file = REPO / ".regions" / region / "env"
    if not env_file.exists():
        raise SystemExit(f"region {region} is not up: ops/world up HOME STANDBY (or ops/region up {region})")
    for line in env_file.read_text().splitlines():
        if line.startswith("export GRANARY_KAFKA_BOOTSTRAP="):
            return Cluster(region, line.partition("=")[2])
    raise SystemExit(f"{env_file} names no GRANARY_KAFKA_BOOTSTRAP")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def receive(
    bootstrap: str, topic: str, expected: int, lags_ms: list[float], warm: threading.Event, deadline: float
) -> None:
    """Consume ``topic`` from its start until ``expected`` records arrived (or the deadline);
    ``warm`` is set when the warm-up record is through."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=10)
    while topic not in consumer.topics() and time.monotonic() < deadline:
        time.sleep(0.05)
    partition = TopicPartition(topic, 0)
    consumer.assign([partition])
    consumer.seek_to_beginning(partition)
    seen = 0
    while seen < expected and time.monotonic() < deadline:
        for batch in consumer.poll(timeout_ms=100).values():
            now_ms = time.time() * 1000
            for record in batch:
                seen += 1
                if record.key == b"warm-up":
                    warm.set()
                else:
                    lags_ms.append(now_ms - record.timestamp)
    consumer.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", required=True)
    parser.add_argument("--standby", required=True)
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=100.0, help="records per second")
    args = parser.parse_args()

    home, standby = kafka_of(args.home), kafka_of(args.standby)
    layout = Layout(f"bench{uuid.uuid4().hex[:6]}")
    mirror_maker = MirrorMaker(standby.alias, [MirrorFlow(home, standby, layout.group_topic_pattern)])
    mirror_maker.start()
    try:
        group_id = uuid.uuid4().hex
        topics = Topics(home.bootstrap, layout.namespace)
        topic = topics.ensure(group_id)
        topics.close()
        producer = KafkaProducer(bootstrap_servers=home.bootstrap, acks="all", linger_ms=0)
        producer.send(topic, key=b"warm-up", value=b"").get(timeout=30)
        lags_ms: list[float] = []
        warm = threading.Event()
        deadline = time.monotonic() + 120 + args.records / args.rate
        consumer = threading.Thread(
            target=receive,
            args=(standby.bootstrap, layout.mirrored_group_topic(home.alias, group_id), args.records + 1),
            kwargs={"lags_ms": lags_ms, "warm": warm, "deadline": deadline},
        )
        consumer.start()
        if not warm.wait(120):  # the new topic is found and its first record copied
            raise SystemExit("the warm-up record was not mirrored within 120 s")
        start = time.monotonic()
        for i in range(args.records):
            time.sleep(max(0.0, start + i / args.rate - time.monotonic()))
            producer.send(topic, key=b"cc_num=4444", value=f"insert {i}".encode())
        producer.flush()
        producer.close()
        consumer.join()
    finally:
        mirror_maker.stop()
    if len(lags_ms) < args.records:
        print(f"only {len(lags_ms)} of {args.records} records arrived before the deadline")
        return 1
    figures = {
        "home": home.alias,
        "standby": standby.alias,
        "records": args.records,
        "rate_per_s": args.rate,
        "lag_ms_p50": round(statistics.median(lags_ms), 1),
        "lag_ms_p99": round(percentile(lags_ms, 0.99), 1),
        "lag_ms_max": round(max(lags_ms), 1),
    }
    print(
        f"mirror lag over {args.records} records at {args.rate:g}/s: "
        f"p50 {figures['lag_ms_p50']} ms, p99 {figures['lag_ms_p99']} ms, max {figures['lag_ms_max']} ms"
    )
    tenth = max(1, len(lags_ms) // 10)
    print(
        "p50 by tenth of the run (ms):",
        [round(statistics.median(lags_ms[i : i + tenth])) for i in range(0, len(lags_ms), tenth)],
    )
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
