"""resplay's benchmark suite (issue 11): ``make bench`` / ``python -m bench``.

Every figure is measured in the same run as its baseline, on loopback only, with bounded request
counts and durations. Servers run in their own processes; the load generator is ``wrk`` when it is
installed (one thread, a Lua script for the POST body and exact percentiles), else an aiohttp client in
a separate process. See ``docs/performance.md`` for what the figures mean and what was optimised.

Modules:
    serve      the server processes: resplay (full fidelity) and a bare aiohttp handler
    servers    starting/stopping those processes and aimock (npm, installed into a temp folder)
    loadgen    wrk and the aiohttp fallback generator, one result shape
    http_load  sections 1-2: non-streaming and streaming create at 1/32/256 connections
    ws_turns   section 3: WebSocket 20-turn loop vs HTTP with previous_response_id
    startup    section 4: in-process MockServer start+stop, CLI start to ready line
    replay     section 5: 200-interaction cassette through the plugin vs vcrpy + pytest-recording
    memory     section 6: memory per stored response with 100k stored
    report     the one table (markdown) and the README section
"""
