# Package imagegate.fixtures builds policy inputs for the tests: the scenario style of
# STYLE.md ("given a tenant and an image, when it calls X, then Y"). It holds no tests.
package imagegate.fixtures

import rego.v1

# Tenants of the scenarios.
owner := "t-owner"

member := "t-member"

stranger := "t-stranger"

# The image every image-scoped scenario touches, unless it says otherwise.
image_id := "img-1"

# image is the record the proxy fetched for image_id, owned by owner.
image(visibility) := {
	"id": image_id,
	"owner": owner,
	"visibility": visibility,
	"status": "active",
	"protected": false,
}

# membership is the caller's membership of the image.
membership(tenant, status) := {"member_id": tenant, "status": status}

# call is the input of one request. spec may give: op, params, tenant, roles, reseller,
# client, image, membership, catalog (resource.reseller), query, body, patch, items,
# version, dialect, region (config.region). Unspecified: the owner, with OpenStack's
# member persona, runs images.get on no image.
call(spec) := {
	"version": object.get(spec, "version", 1),
	"operation": {
		"dialect": object.get(spec, "dialect", "glance"),
		"name": object.get(spec, "op", "images.get"),
		"params": object.get(spec, "params", {"image_id": image_id}),
		"deprecated": false,
	},
	"request": {
		"method": "GET",
		"path": "/v2/images",
		"query": object.get(spec, "query", {}),
		"body": object.get(spec, "body", null),
		"patch": object.get(spec, "patch", null),
	},
	"principal": {
		"user": "u-1",
		"tenant": object.get(spec, "tenant", owner),
		"roles": object.get(spec, "roles", ["member", "reader"]),
		"reseller": object.get(spec, "reseller", ""),
		"client": object.get(spec, "client", ""),
		"issuer": "https://idp.example",
		"claims": {},
	},
	"resource": {
		"image": object.get(spec, "image", null),
		"membership": object.get(spec, "membership", null),
		"reseller": object.get(spec, "catalog", null),
	},
	"config": {"dialect": object.get(spec, "dialect", "glance"), "upstream_mode": "delegated", "region": object.get(spec, "region", "")},
	"items": object.get(spec, "items", null),
}

# patch is a JSON Patch operation on one property.
patch(op, property, value) := {"op": op, "path": concat("", ["/", property]), "pointer": [property], "value": value}

# ----------------------------------------------------------------------------------------
# The Gcore-style v1 dialect: project 7 of client 70, a client of reseller 1001, acts in
# region 1; project 8 is another client's. Ids are numbers in records, strings in paths.

g_project := "7"

g_other := "8"

g_client := "70"

g_reseller := "1001"

g_region := "1"

# gimage is a v1 image record of project owner in region 1.
gimage(owner, visibility) := {
	"id": image_id,
	"name": "debian",
	"project_id": to_number(owner),
	"region_id": 1,
	"visibility": visibility,
	"metadata_detailed": [
		{"key": "os", "value": "linux", "read_only": false},
		{"key": "billing", "value": "paid", "read_only": true},
	],
}

# gparams are the path parameters of an operation on image_id, or of a list (no image).
gparams := {"project_id": g_project, "region_id": g_region, "image_id": image_id}

glist_params := {"project_id": g_project, "region_id": g_region}

# gcall is call() in the gcore dialect: by default project 7's member, a client of
# reseller 1001, runs images.get on no image. spec as for call(); its params replace
# gparams whole.
gcall(spec) := call(object.union(
	{
		"dialect": "gcore", "tenant": g_project, "client": g_client, "reseller": g_reseller,
		"roles": ["member"], "params": object.get(spec, "params", gparams),
	},
	object.remove(spec, ["params"]),
))

# gitem is a list item of the v1 list filter.
gitem(id, owner, visibility) := {"id": id, "owner": owner, "visibility": visibility, "member_status": null, "region": g_region}

# limits and shared build a catalog (input.resource.reseller).
catalog(limits, shared) := {"limits": limits, "shared": shared}
