"""End-to-end smoke test of one region, with real clients.

Run through `ops/region check NAME` (which sources the region's env file and
uses a scratch venv with redis, psycopg, kafka-python, boto3 and pyarrow).
Each check is independent; prints one line per check and a closing
'N passed, N failed' line. Exit status 1 if anything failed.
"""

import os
import time
import traceback
import uuid

RUN = uuid.uuid4().hex[:8]
ENV = os.environ


def check_redis():
    import redis

    r = redis.Redis.from_url(ENV["GRANARY_REDIS_URL"])
    r.set(f"smoke:{RUN}", "ok", ex=60)
    assert r.get(f"smoke:{RUN}") == b"ok"
    return f"redis {r.info('server')['redis_version']}"


def check_postgres():
    import psycopg

    url = ENV["GRANARY_PG_URL"].replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, connect_timeout=5) as conn:
        wal = conn.execute("SHOW wal_level").fetchone()[0]
        assert wal == "logical", wal
        conn.execute("CREATE TEMP TABLE t (id int)")
        conn.execute("INSERT INTO t VALUES (1), (2)")
        assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 2
        version = conn.execute("SHOW server_version").fetchone()[0]
    return f"postgres {version}, wal_level={wal}"


def check_kafka():
    from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.admin import NewTopic

    bs = ENV["GRANARY_KAFKA_BOOTSTRAP"]
    topic = f"smoke-{RUN}"
    admin = KafkaAdminClient(bootstrap_servers=bs, request_timeout_ms=10000)
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=bs, acks="all")
    for i in range(3):
        producer.send(topic, f"m{i}".encode()).get(timeout=10)
    producer.close()
    # assign() instead of a group subscription: no rebalance wait
    consumer = KafkaConsumer(bootstrap_servers=bs, consumer_timeout_ms=5000)
    tp = TopicPartition(topic, 0)
    consumer.assign([tp])
    consumer.seek_to_beginning(tp)
    got = []
    for m in consumer:  # stops after 3 messages, or after 5 s without one
        got.append(m.value)
        if len(got) == 3:
            break
    consumer.close()
    assert got == [b"m0", b"m1", b"m2"], got
    return f"kafka topic {topic}: produced and consumed 3 messages"


def _s3_client():
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=ENV["GRANARY_S3_ENDPOINT"],
        aws_access_key_id=ENV["GRANARY_S3_ACCESS_KEY"],
        aws_secret_access_key=ENV["GRANARY_S3_SECRET_KEY"],
        region_name=ENV.get("GRANARY_S3_REGION", "us-east-1"),
        config=Config(s3={"addressing_style": "path"}),
    )


BUCKET = f"smoke-{RUN}"


def check_s3_boto3():
    s3 = _s3_client()
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="a/hello.txt", Body=b"hello")
    assert s3.get_object(Bucket=BUCKET, Key="a/hello.txt")["Body"].read() == b"hello"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    assert keys == ["a/hello.txt"], keys
    return f"s3 boto3 bucket {BUCKET}: create/put/get/list"


def check_s3_pyarrow():
    import pyarrow as pa
    import pyarrow.fs as pafs
    import pyarrow.parquet as pq

    endpoint = ENV["GRANARY_S3_ENDPOINT"]
    scheme, hostport = endpoint.split("://", 1)
    fs = pafs.S3FileSystem(
        endpoint_override=hostport,
        scheme=scheme,
        access_key=ENV["GRANARY_S3_ACCESS_KEY"],
        secret_key=ENV["GRANARY_S3_SECRET_KEY"],
        region=ENV.get("GRANARY_S3_REGION", "us-east-1"),
    )
    table = pa.table({"id": list(range(1000)), "x": [i / 2 for i in range(1000)]})
    # several files through one filesystem: catches servers that break on reused connections
    for i in range(4):
        path = f"{BUCKET}/parquet/part-{i}.parquet"
        pq.write_table(table, path, filesystem=fs)
        back = pq.read_table(path, filesystem=fs)
        assert back.equals(table)
    return f"s3 pyarrow {pa.__version__}: 4 parquet files written/read ({back.num_rows} rows each)"


def main():
    passed = failed = 0
    for name, fn in [(n, f) for n, f in globals().items() if n.startswith("check_")]:
        t0 = time.monotonic()
        try:
            info = fn()
            passed += 1
            print(f"PASS {name[6:]:<12} {time.monotonic() - t0:5.1f}s  {info}")
        except Exception as exc:  # report and keep going
            failed += 1
            print(f"FAIL {name[6:]:<12} {time.monotonic() - t0:5.1f}s  {type(exc).__name__}: {exc}")
            if ENV.get("SMOKE_VERBOSE"):
                traceback.print_exc()
    print(f"smoke: {passed} passed, {failed} failed")
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
