"""A local Amazon: LWA, SP-API and Ads API over real HTTP with a deterministic synthetic seller.

Start one with :func:`chalkola_pipelines.simulator.server.run_in_thread` or ``chalkola simulator serve``.
"""
