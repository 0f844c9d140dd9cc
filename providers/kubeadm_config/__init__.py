"""ClusterVersion and ClusterAddons: what `kubeadm upgrade apply` would record in a bootstrap-mode cluster."""
