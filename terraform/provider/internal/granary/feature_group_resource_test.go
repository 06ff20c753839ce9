package granary

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
)

// Acceptance tests (TF_ACC=1) against a running control plane and data plane:
// tests/control_plane/test_terraform_acceptance.py starts them, makes a tenant with a ready
// project, and runs these with GRANARY_HOST, GRANARY_API_KEY (the tenant admin's key),
// GRANARY_TEST_PROJECT and TF_ACC_TERRAFORM_PATH (the built OpenTofu) set.

var testProviders = map[string]func() (tfprotov6.ProviderServer, error){
	"granary": providerserver.NewProtocol6WithError(New("test")()),
}

func testClient() *Client {
	return &Client{Host: os.Getenv("GRANARY_HOST"), APIKey: os.Getenv("GRANARY_API_KEY"),
		HTTP: &http.Client{Timeout: 30 * time.Second}, PollInterval: 200 * time.Millisecond, Timeout: time.Minute}
}

func featureGroupConfig(project string, version int, amountType, description string) string {
	return fmt.Sprintf(`
resource "granary_feature_group" "acc" {
  project     = %q
  name        = "acc"
  version     = %d
  description = %q
  primary_key = ["id"]
  event_time  = "ts"
  features = [
    { name = "id", type = "int64" },
    { name = "ts", type = "timestamp[us, tz=UTC]" },
    { name = "amount", type = %q, description = "in EUR" },
  ]
}
`, project, version, description, amountType)
}

// storedGroups is the versions of group "acc" in the project's data plane, by version.
func storedGroups(project string) (map[int64]FeatureGroup, error) {
	ctx := context.Background()
	dp, err := testClient().dataPlane(ctx, project)
	if err != nil {
		return nil, err
	}
	var groups []FeatureGroup
	if err := dp.do(ctx, http.MethodGet, "/feature-groups?name=acc", nil, &groups); err != nil {
		return nil, err
	}
	out := map[int64]FeatureGroup{}
	for _, g := range groups {
		out[g.Version] = g
	}
	return out, nil
}

func checkStored(project string, version int64, amountType string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		groups, err := storedGroups(project)
		if err != nil {
			return err
		}
		g, ok := groups[version]
		if !ok || len(groups) != 1 {
			return fmt.Errorf("expected only version %d in the data plane, found %v", version, groups)
		}
		if got := g.Features[2].Type; got != amountType {
			return fmt.Errorf("feature amount is %s in the data plane, want %s", got, amountType)
		}
		return nil
	}
}

// TestAccFeatureGroup: create, import, update in place, a refused schema change, a new
// version replacing the old, and destroy leaving nothing in the data plane.
func TestAccFeatureGroup(t *testing.T) {
	project := os.Getenv("GRANARY_TEST_PROJECT")
	address := "granary_feature_group.acc"
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		PreCheck: func() {
			if project == "" || os.Getenv("GRANARY_HOST") == "" || os.Getenv("GRANARY_API_KEY") == "" {
				t.Fatal("GRANARY_HOST, GRANARY_API_KEY and GRANARY_TEST_PROJECT must be set")
			}
		},
		CheckDestroy: func(*terraform.State) error {
			groups, err := storedGroups(project)
			if err == nil && len(groups) != 0 {
				err = fmt.Errorf("destroy left %d version(s) of group acc", len(groups))
			}
			return err
		},
		Steps: []resource.TestStep{
			{
				Config: featureGroupConfig(project, 1, "double", "first"),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr(address, "features.2.type", "double"),
					resource.TestCheckResourceAttr(address, "online", "false"),
					resource.TestCheckResourceAttrSet(address, "id"),
					checkStored(project, 1, "double"),
				),
			},
			{
				ResourceName:      address,
				ImportState:       true,
				ImportStateId:     project + "/acc/1",
				ImportStateVerify: true,
			},
			{
				Config: featureGroupConfig(project, 1, "double", "second"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(address, plancheck.ResourceActionUpdate)}},
				Check: resource.TestCheckResourceAttr(address, "description", "second"),
			},
			{
				Config:      featureGroupConfig(project, 1, "int64", "second"),
				ExpectError: regexp.MustCompile(`cannot\s+change\s+its\s+features\s+\(column\s+"amount"\s+double\s+->\s+int64\)`),
			},
			{
				Config: featureGroupConfig(project, 2, "int64", "second"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(address, plancheck.ResourceActionDestroyBeforeCreate)}},
				Check: checkStored(project, 2, "int64"),
			},
		},
	})
}
