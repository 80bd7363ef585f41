"""Optional: steps run on SAQ workers, events shared between processes through Litestar Channels.

Needs the ``saq`` extra (``pip install 'litestar-workflows[saq]'``) once a queue is configured:
``WorkflowPluginConfig(queue=WorkflowQueueConfig("redis://localhost:6379/0"))``. The modules:
``config`` (settings; imports nothing of SAQ), ``dispatcher`` (jobs carrying ids), ``jobs`` (the
worker's job), ``events`` (the Channels-backed event bus) and ``mode`` (the wiring into the plugin).
"""

from __future__ import annotations

from litestar_workflows.queue.config import WorkflowQueueConfig

__all__ = ("WorkflowQueueConfig",)
