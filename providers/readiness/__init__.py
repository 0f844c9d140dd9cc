"""ApiServerReady: a bounded wait for the Kubernetes API server, as a dynamic resource."""
