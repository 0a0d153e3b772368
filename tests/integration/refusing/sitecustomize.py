"""Fault injection for a worker process started by the poison tests (this folder on its
PYTHONPATH): every send to the topic named by REFUSED_TOPIC fails as to a broker that never
acknowledges it. Python imports ``sitecustomize`` at start-up, so the worker's own code runs
unchanged."""

from __future__ import annotations

import os
from typing import Any

REFUSED = os.environ.get("REFUSED_TOPIC")

if REFUSED:
    from aiokafka.errors import KafkaTimeoutError
    from faust.exceptions import ProducerSendError
    from faust.transport.drivers import aiokafka as driver

    _send = driver.Producer.send

    async def send(self: Any, topic: str, *args: Any, **kwargs: Any) -> Any:
        if topic == REFUSED:
            raise ProducerSendError(f"injected: {topic} is not acknowledged") from KafkaTimeoutError()
        return await _send(self, topic, *args, **kwargs)

    driver.Producer.send = send  # type: ignore[method-assign]
