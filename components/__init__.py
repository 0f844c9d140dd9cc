"""ComponentResources: thin wiring of resources; all decisions come from vsphere_k8s."""
