"""Where a region's data plane stores what: every Kafka topic, Redis key prefix and S3
object prefix is named here and nowhere else.

The control plane never builds these names: it asks the region's admin API
(:mod:`data_plane.api.routers.admin`), which answers with :meth:`Layout.of_project`, so
a change of layout is made in this module alone.

=========  ==========================================================================
service    names (``ns`` is the data plane's ``GRANARY_NAMESPACE``, ``P`` a project)
=========  ==========================================================================
Kafka      ``{ns}.fg.{group id}``: one topic per feature group, named by its UUIDv7
           id: a re-created group never reads an old group's records;
           ``{home region}.{ns}.fg.{group id}``: that topic mirrored from the group's
           home region (MirrorMaker 2's DefaultReplicationPolicy, ``replication/``)
Redis      ``{ns}.P:{group}:{version}:{primary key}``: one key per online row
S3         ``{ns}/offline/P/{group}_v{version}/``: a group's Delta table;
           ``{ns}/training_datasets/P/``: materialized training datasets;
           ``{ns}/models/P/{model}/{version}/``: a model version's artifacts
=========  ==========================================================================
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass


def group_location(project: str, name: str, version: int) -> str:
    """A feature group's Delta table, relative to the offline root (embedded: a folder;
    remote: :meth:`Layout.offline_root`)."""
    return f"{project}/{name}_v{version}"


@dataclass(frozen=True)
class ProjectLayout:
    """Every name of one project's data in the region."""

    project: str
    #: Prefix of the project's feature group topics (``{ns}.fg.``; the group id follows).
    group_topic_prefix: str
    #: Prefix of every online key of the project.
    online_key_prefix: str
    #: Object prefixes (inside the region's bucket) holding the project's files.
    object_prefixes: tuple[str, ...]


@dataclass(frozen=True)
class Layout:
    """The names of one data plane (one namespace) in its region's services."""

    namespace: str

    @property
    def group_topic_prefix(self) -> str:
        return f"{self.namespace}.fg."

    def group_topic(self, group_id: str) -> str:
        return f"{self.group_topic_prefix}{group_id}"

    @property
    def group_topic_pattern(self) -> str:
        """A regular expression matching every group topic of this data plane and nothing
        else (MirrorMaker's topic filter, which matches whole names)."""
        return re.escape(self.group_topic_prefix) + ".+"

    def is_group_topic(self, topic: str) -> bool:
        """A group topic this data plane materializes: its own, or one mirrored into its
        region from a group's home region (``{home}.{own name}``), which keeps the
        standby's offline table and online store warm."""
        return topic.startswith(self.group_topic_prefix) or topic.partition(".")[2].startswith(
            self.group_topic_prefix
        )

    def mirrored_group_topic(self, home_region: str, group_id: str) -> str:
        """The group topic of ``home_region`` as mirrored into another region: MirrorMaker 2's
        DefaultReplicationPolicy puts the source cluster's alias (the region's name) and a dot
        before the name, which is also what keeps it from mirroring a topic back home."""
        return f"{home_region}.{self.group_topic(group_id)}"

    def group_topic_copies(self, topics: Sequence[str], group_ids: Sequence[str]) -> list[str]:
        """Those of ``topics`` that hold a group's records: its own topic in this region
        or a copy mirrored from another (``{region}.{namespace}.fg.{id}``; ids are unique
        across regions)."""
        suffixes = tuple(f".fg.{group_id}" for group_id in group_ids)
        return sorted(t for t in topics if suffixes and t.endswith(suffixes))

    def online_store_prefix(self, project: str) -> str:
        """What the online store puts before ``:{group}:{version}:...`` in a project's keys."""
        return f"{self.namespace}.{project}"

    def offline_root(self) -> str:
        """Object prefix of every project's Delta tables; a group's table is under
        ``{offline_root}/{its location}`` (the location starts with the project)."""
        return f"{self.namespace}/offline"

    def offline_prefix(self, project: str) -> str:
        return f"{self.offline_root()}/{project}/"

    def training_prefix(self, project: str) -> str:
        return f"{self.namespace}/training_datasets/{project}/"

    def models_prefix(self, project: str) -> str:
        return f"{self.namespace}/models/{project}/"

    def of_project(self, project: str) -> ProjectLayout:
        return ProjectLayout(
            project=project,
            group_topic_prefix=self.group_topic_prefix,
            online_key_prefix=f"{self.online_store_prefix(project)}:",
            object_prefixes=(
                self.offline_prefix(project),
                self.training_prefix(project),
                self.models_prefix(project),
            ),
        )
