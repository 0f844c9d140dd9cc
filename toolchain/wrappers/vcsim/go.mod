// Wrapper module: the project's own vcsim main against a current govmomi.
module vsphere-k8s.local/toolchain/vcsim

go 1.26.0

require github.com/vmware/govmomi v0.53.0

require github.com/google/uuid v1.6.0 // indirect
