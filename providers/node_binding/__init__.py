"""NodeBinding: a Kubernetes node bound to its vSphere VM (providerID, zone and region labels)."""
