"""What services agree on across the bus: subjects, streams and typed payloads.

Producers build these models and consumers validate with them, so a renamed field
breaks at type-check time in every service, not at run time in two consumers.
Nothing here knows how a service stores or serves anything.
"""
