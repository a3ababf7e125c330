"""Human-service routing (ACD): queues, skills, priorities, strategies, overflow, estimated wait.

``Router`` (engine.py) runs over a ``RoutingState`` (state.py): in memory for the embedded default,
Redis for production (hotline/store/state/).
"""
