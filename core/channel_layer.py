"""channels-redis' pub/sub channel layer, telling this process's consumers when it lost Redis.

Pub/sub keeps nothing: a message published while a process's subscriber connection is down
(Redis restarted, the network cut) never reaches it. redis-py reconnects that connection and
subscribes again by itself, so the process's WebSockets stay open, unaware that pushes went
missing. Here, once the connection is back and subscribed again, every channel of the process
gets `{"type": "layer.reconnected"}`; a consumer re-reads from its store whatever it may have
missed (alerts.consumers.AlertConsumer.layer_reconnected). Everything else is channels-redis'
own (decision 0024).
"""

from __future__ import annotations

import asyncio
import logging

from channels_redis import pubsub
from channels_redis.utils import _wrap_close, decode_hosts

logger = logging.getLogger(__name__)
RECONNECTED = {"type": "layer.reconnected"}


class _Shard(pubsub.RedisSingleShardConnection):
    """One Redis host's connections; watches its subscriber connection for reconnects."""

    _watched = None

    async def subscribe(self, channel):
        await super().subscribe(channel)
        connection = getattr(self._pubsub, "connection", None)
        if connection is not None and connection is not self._watched:
            # Called at every connect after this one; redis-py's PubSub registered its own
            # callback (which subscribes again) first, so it has run when ours runs.
            self._watched = connection
            connection.register_connect_callback(self._reconnected)

    async def _reconnected(self, connection) -> None:
        loop_layer = self.channel_layer
        channels = list(loop_layer.channels.values())
        logger.warning(
            "channel layer: subscribed to Redis again; telling %d channel(s)", len(channels)
        )
        message = loop_layer.channel_layer.serialize(RECONNECTED)
        for queue in channels:
            queue.put_nowait(message)


class _LoopLayer(pubsub.RedisPubSubLoopLayer):
    def __init__(self, hosts=None, **kwargs):
        super().__init__(hosts, **kwargs)
        self._shards = [_Shard(host, self) for host in decode_hosts(hosts)]


class RedisPubSubChannelLayer(pubsub.RedisPubSubChannelLayer):
    """`channels_redis.pubsub.RedisPubSubChannelLayer` whose shards announce a reconnect."""

    def _get_layer(self):
        loop = asyncio.get_running_loop()
        try:
            return self._layers[loop]
        except KeyError:
            layer = self._layers[loop] = _LoopLayer(*self._args, **self._kwargs, channel_layer=self)
            _wrap_close(self, loop)
            return layer
