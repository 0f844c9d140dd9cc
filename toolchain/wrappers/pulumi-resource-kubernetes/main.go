// Command pulumi-resource-kubernetes serves pulumi-kubernetes' provider.
//
// The upstream main embeds a schema with the release version written into it
// and a Terraform mapping, both generated at release time and absent from the
// module zip. toolchain/build.py writes them here from the committed
// schema.json and terraform-mapping.json in the module cache before building.
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
)

//go:embed schema-embed.json
var schema []byte

//go:embed terraform-mapping-embed.json
var terraformMapping []byte

func main() {
	provider.Serve("kubernetes", version.Version, schema, terraformMapping)
}
