"""The vSphere Kubernetes policy pack: pure rules (``rules/``, one module per concern) over a neutral
resource view (view.py).

Importing this package does nothing; ``__main__.py`` alone starts the Pulumi policy server.
"""
