"""How long a worker's fetch may wait at the broker for records: Faust's aiokafka consumer,
with the wait the counting writer uses instead of Faust's fixed 1,500 ms.

A fetch with ``min_bytes`` 1 is answered at once when records are there, so under load the
wait never applies; it is what a fetch sent to a partition with nothing new waits before
the broker answers. Tansu answers such a fetch only when its wait ends, not when a record
arrives, so a record landing just after an empty fetch went out waited up to 1.5 s in the
worker (the freshness benchmark's largest stage). Faust (faust-streaming 0.15) passes
``fetch_max_wait_ms=1500`` to aiokafka with no setting for it: the worker's consumer
(batch_drain.BatchConsumer, a ShortWaitConsumer) makes its aiokafka consumer with Faust's
own code and sets the wait before the consumer starts (aiokafka
hands it to its fetcher in ``start``). At 50 ms an idle worker sends about 20 empty fetches a
second per broker, each a few hundred bytes."""

from __future__ import annotations

from typing import Any, ClassVar

import aiokafka
from faust.transport.drivers import aiokafka as faust_aiokafka

# The most a worker's fetch waits at the broker for records (the counting writer's
# counter.FETCH_WAIT_MS is the same 50 ms, for the same reason).
WORKER_FETCH_WAIT_MS = 50


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    fetch_wait_ms: ClassVar[int] = WORKER_FETCH_WAIT_MS

    def _create_worker_consumer(self, transport: Any) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        # Read by AIOKafkaConsumer.start(), which builds the fetcher with it.
        consumer._fetch_max_wait_ms = self.fetch_wait_ms
        return consumer


class ShortWaitConsumer(faust_aiokafka.Consumer):
    """Faust's aiokafka consumer whose fetches wait ``WORKER_FETCH_WAIT_MS``."""

    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)
