"""`voicebot bench`: many simulated carriers calling the real media-stream server at once.

    server.py     start `voicebot serve` (one or more worker processes), wait until warm, sample CPU/RSS
    scenarios.py  the scripted debtors, each with the outcome its call must reach
    carriers.py   N carriers dialling in over Twilio Media Streams, staggered, for a duration
    metrics.py    what a run measured: latency, processing, underruns, RTFs, correctness
    report.py     rich table, JSON, PNG of latency against concurrency
    profile.py    optional py-spy sampling of the server, grouped by where the CPU goes
    run.py        one level (N calls) end to end, and a sweep over several levels
"""
