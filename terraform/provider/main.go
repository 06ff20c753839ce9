// Command terraform-provider-granary serves the Granary provider to Terraform or OpenTofu.
package main

import (
	"context"
	"flag"
	"log"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"

	"terraform-provider-granary/internal/granary"
)

// version is stamped by the build (-ldflags "-X main.version=...").
var version = "0.1.0"

func main() {
	var debug bool
	flag.BoolVar(&debug, "debug", false, "serve for a debugger (TF_REATTACH_PROVIDERS)")
	flag.Parse()
	err := providerserver.Serve(context.Background(), granary.New(version), providerserver.ServeOpts{
		Address: "registry.opentofu.org/granary/granary",
		Debug:   debug,
	})
	if err != nil {
		log.Fatal(err.Error())
	}
}
