"""Record and replay of WebSocket-mode sessions, and the local recording proxy (issue 7).

::

    session.py      pure: WsMessage, WsSession and their cassette form (``websockets:`` in the file)
    replayer.py     pure: strict replay of one session (lanes, symbolic ids, release order, close)
    recorder.py     the tee between a client socket and the upstream one (aiohttp <-> websockets)
    proxy.py        ProxyServer: one local aiohttp server for HTTP, SSE and WebSocket (record or replay)
    intercept.py    the in-process seam: websockets' connect routed to the proxy while a cassette is used

DECISIONS 21: the proxy runs inside the test process (a thread), so recording needs nothing started by
hand; ``resplay serve --record/--replay`` runs the same proxy as a standalone server for any client.
"""
