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

# call is the input of one request. spec may give: op, params, tenant, roles, image,
# membership, query, body, patch, items, version, dialect. Unspecified: the owner, with
# OpenStack's member persona, runs images.get on no image.
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
		"reseller": "",
		"issuer": "https://idp.example",
		"claims": {},
	},
	"resource": {
		"image": object.get(spec, "image", null),
		"membership": object.get(spec, "membership", null),
	},
	"config": {"dialect": "glance", "upstream_mode": "delegated"},
	"items": object.get(spec, "items", null),
}

# patch is a JSON Patch operation on one property.
patch(op, property, value) := {"op": op, "path": concat("", ["/", property]), "pointer": [property], "value": value}
