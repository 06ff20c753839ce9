# An enterprise tenant with a project in each of two regions, members, a key per
# project for a CI pipeline, and a feature group in each project. The operator token
# comes from GRANARY_ADMIN_TOKEN and the control plane's URL from GRANARY_HOST; the
# tenant's own calls use the admin key the tenant was made with (kept, sensitive, in the
# state).

terraform {
  required_providers {
    granary = { source = "granary/granary" }
  }
}

variable "tenant" {
  type    = string
  default = "acme"
}

variable "regions" {
  description = "The home region first, then the region of the second project."
  type        = list(string)
  default     = ["eu-1", "us-1"]
}

variable "members" {
  description = "Users of the tenant (joined by invitation), by email: project and role."
  type        = map(object({ project = string, role = string }))
  default     = {}
}

provider "granary" {
  alias = "operator"
}

resource "granary_tenant" "this" {
  provider        = granary.operator
  name            = var.tenant
  admin_email     = "platform@${var.tenant}.example.com"
  home_region     = var.regions[0]
  allowed_regions = var.regions
  sla_tier        = "premium"
  quotas = {
    projects                   = 10
    feature_groups_per_project = 200
    online_reads_per_second    = 5000
  }
}

provider "granary" {
  api_key = granary_tenant.this.admin_key
}

locals {
  projects = {
    "fraud"      = var.regions[0]
    "fraud-eval" = var.regions[1]
  }
}

# Each project's standby is the other region: it holds a copy, takes the project over
# in a failover, and is cleaned with it when the project is destroyed.
resource "granary_project" "this" {
  for_each = local.projects
  name     = each.key
  region   = each.value
  standbys = [for r in var.regions : r if r != each.value]
}

resource "granary_member" "this" {
  for_each = var.members
  project  = granary_project.this[each.value.project].name
  email    = each.key
  role     = each.value.role
}

resource "granary_api_key" "ci" {
  for_each = granary_project.this
  name     = "ci-${each.key}"
  project  = each.value.name
  scopes   = ["project:read", "feature_groups:write"]
}

# The same feature group in each project, made in the project's region with its schema
# declared: the SDK's inserts are checked against it.
resource "granary_feature_group" "transactions" {
  for_each    = granary_project.this
  project     = each.value.name
  name        = "transactions"
  version     = 1
  description = "card transactions"
  primary_key = ["cc_num"]
  event_time  = "ts"
  online      = true
  ttl_seconds = 86400
  features = [
    { name = "cc_num", type = "int64" },
    { name = "ts", type = "timestamp[us, tz=UTC]" },
    { name = "amount", type = "double", description = "in EUR" },
  ]
}

data "granary_project" "fraud" {
  name = granary_project.this["fraud"].name
}

# Read at apply time here (depends_on): the tenant's key is not known before.
data "granary_regions" "this" {
  depends_on = [granary_tenant.this]
}

output "allowed_regions" {
  value = data.granary_regions.this.allowed_regions
}

output "data_plane_urls" {
  value = { for name, p in granary_project.this : name => p.data_plane_url }
}

output "fraud_region" {
  value = data.granary_project.fraud.region
}

output "ci_keys" {
  value     = { for name, k in granary_api_key.ci : name => k.secret }
  sensitive = true
}
