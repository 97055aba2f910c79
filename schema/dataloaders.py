"""Per-request DataLoaders for computed fields; each batches one kind of read into one query.

Each area keeps its own (``schema/<area>/dataloaders.py``, named ``<target>_by_<key>``);
``Loaders`` gathers them for the request context. Loaders are created fresh for every request
(see ``schema.execution.views``): sharing them across requests would serve stale rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from schema.accounts.dataloaders import AccountLoaders
from schema.attachments.dataloaders import AttachmentLoaders
from schema.resolution import SharedHops, share_hops
from schema.workflows.dataloaders import WorkflowLoaders


@dataclass
class Loaders(AccountLoaders, WorkflowLoaders, AttachmentLoaders):
    """The DataLoaders of one request: every area's, sharing their hops to the thread."""

    hops: SharedHops = field(default_factory=SharedHops)

    def __post_init__(self) -> None:
        share_hops(self, self.hops)
