// Command vcsim starts govmomi's vCenter simulator with the tagging REST API
// registered, for the project's live tests and benchmarks. It prints one JSON
// line with the SDK URL once it is listening and runs until stdin closes or a
// signal arrives, so a parent process can never leak it.
package main

import (
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/vmware/govmomi/simulator"
	_ "github.com/vmware/govmomi/vapi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// authorizationManager gives the simulator vCenter's documented SetEntityPermissions:
// it adds or updates the permissions of the principals it is given and keeps every
// other principal's permission on the entity. The stock simulator replaces the whole
// set, which would make any one-principal grant look like a permission takeover.
type authorizationManager struct {
	*simulator.AuthorizationManager
}

func (m *authorizationManager) SetEntityPermissions(ctx *simulator.Context, req *types.SetEntityPermissions) soap.HasFault {
	current := m.AuthorizationManager.RetrieveEntityPermissions(ctx, &types.RetrieveEntityPermissions{
		This: req.This, Entity: req.Entity, Inherited: false,
	})
	body, ok := current.(*methods.RetrieveEntityPermissionsBody)
	if !ok || body.Res == nil {
		return current
	}
	given := map[string]bool{}
	for _, p := range req.Permission {
		given[key(p)] = true
	}
	merged := []types.Permission{}
	for _, p := range body.Res.Returnval {
		if !given[key(p)] {
			merged = append(merged, p)
		}
	}
	merged = append(merged, req.Permission...)
	return m.AuthorizationManager.SetEntityPermissions(&types.SetEntityPermissions{
		This: req.This, Entity: req.Entity, Permission: merged,
	})
}

// AddAuthorizationRole answers with the new role's id, as vCenter does (the stock simulator
// creates the role but answers 0, so a client could never find the role it made).
func (m *authorizationManager) AddAuthorizationRole(req *types.AddAuthorizationRole) soap.HasFault {
	res := m.AuthorizationManager.AddAuthorizationRole(req)
	body, ok := res.(*methods.AddAuthorizationRoleBody)
	if !ok || body.Fault_ != nil {
		return res
	}
	for _, role := range m.RoleList {
		if role.Name == req.Name {
			body.Res = &types.AddAuthorizationRoleResponse{Returnval: role.RoleId}
		}
	}
	return body
}

// searchIndex gives the simulator vCenter's documented FindByUuid scope: with a datacenter
// given, only entities inside it match. The stock simulator searches the whole inventory,
// which would let a client that searches configured datacenters only (as the vSphere CPI
// does) find VMs it never could on a real vCenter.
type searchIndex struct {
	*simulator.SearchIndex
}

func (s *searchIndex) FindByUuid(ctx *simulator.Context, req *types.FindByUuid) soap.HasFault {
	res := s.SearchIndex.FindByUuid(ctx, req)
	body, ok := res.(*methods.FindByUuidBody)
	if !ok || req.Datacenter == nil || body.Res == nil || body.Res.Returnval == nil {
		return res
	}
	if !inside(ctx, *body.Res.Returnval, *req.Datacenter) {
		body.Res.Returnval = nil
	}
	return body
}

// inside walks the parents of ref (a VM in a vApp through the vApp) looking for dc.
func inside(ctx *simulator.Context, ref, dc types.ManagedObjectReference) bool {
	for depth := 0; depth < 64; depth++ {
		if ref == dc {
			return true
		}
		obj := ctx.Map.Get(ref)
		if obj == nil {
			return false
		}
		entity, ok := obj.(mo.Entity)
		if !ok {
			return false
		}
		parent := entity.Entity().Parent
		if parent == nil {
			if vm, isVM := obj.(*simulator.VirtualMachine); isVM && vm.ParentVApp != nil {
				parent = vm.ParentVApp
			} else {
				return false
			}
		}
		ref = *parent
	}
	return false
}

func key(p types.Permission) string {
	return fmt.Sprintf("%t/%s", p.Group, strings.ToLower(p.Principal))
}

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	dc := flag.Int("dc", 1, "datacenters")
	clusters := flag.Int("cluster", 1, "clusters per datacenter")
	hosts := flag.Int("host", 3, "hosts per cluster")
	standalone := flag.Int("standalone-host", 1, "standalone hosts per datacenter")
	vms := flag.Int("vm", 2, "virtual machines per resource pool")
	pools := flag.Int("pool", 0, "child resource pools per cluster")
	datastores := flag.Int("ds", 1, "datastores")
	folders := flag.Int("folder", 0, "datacenter folders")
	stdinWatch := flag.Bool("stdin-watch", true, "exit when stdin closes")
	flag.Parse()

	model := simulator.VPX()
	model.Datacenter = *dc
	model.Cluster = *clusters
	model.ClusterHost = *hosts
	model.Host = *standalone
	model.Machine = *vms
	model.Pool = *pools
	model.Datastore = *datastores
	model.Folder = *folders
	if err := model.Create(); err != nil {
		fmt.Fprintln(os.Stderr, "vcsim: create model:", err)
		os.Exit(1)
	}
	defer model.Remove()
	registry := model.Map()
	am := registry.Get(types.ManagedObjectReference{Type: "AuthorizationManager", Value: "AuthorizationManager"})
	if stock, ok := am.(*simulator.AuthorizationManager); ok {
		registry.Put(&authorizationManager{stock})
	}
	si := registry.Get(types.ManagedObjectReference{Type: "SearchIndex", Value: "SearchIndex"})
	if stock, ok := si.(*simulator.SearchIndex); ok {
		registry.Put(&searchIndex{stock})
	}

	model.Service.Listen = &url.URL{Host: *listen}
	model.Service.TLS = new(tls.Config)
	model.Service.RegisterEndpoints = true
	server := model.Service.NewServer()
	defer server.Close()

	u := *server.URL
	u.User = nil
	line, _ := json.Marshal(map[string]string{"url": u.String(), "host": u.Host})
	fmt.Println(string(line))

	done := make(chan struct{})
	if *stdinWatch {
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			close(done)
		}()
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case <-sig:
	case <-done:
	}
}
