# A small policy for the golden tests of `imagegate check`: fixed, so that the rules and
# lines the check reports do not move when the shipped policies change.
package imagegate

import rego.v1

tenant := input.principal.tenant

image := input.resource.image

# decision: hidden images first, then refusals, then grants.
decision := refusal(404, "not_found", concealed) if {
	count(concealed) > 0
} else := refusal(403, "forbidden", refusals) if {
	count(refusals) > 0
} else := {
	"allow": true,
	"status": 200,
	"code": "ok",
	"reasons": sort(grants | grounds),
	"hide": false,
	"filter": filter,
}

refusal(status, code, reasons) := {
	"allow": false,
	"status": status,
	"code": code,
	"reasons": sort(reasons),
	"hide": status == 404,
	"filter": "",
}

default filter := ""

filter := "images" if input.operation.name == "images.list"

grants contains sprintf("role %s grants %s", [role, input.operation.name]) if {
	some role in input.principal.roles
	input.operation.name in data.imagegate.role_grants[role]
}

refusals contains sprintf("no role of %v grants %s", [input.principal.roles, input.operation.name]) if {
	count(grants) == 0
}

refusals contains sprintf("tenant %s does not own image %s", [tenant, image.id]) if {
	input.operation.name in {"images.update", "images.delete"}
	image.owner != tenant
}

refusals contains sprintf("property %s is read-only", [op.pointer[0]]) if {
	some op in input.request.patch
	op.pointer[0] in data.imagegate.read_only
}

concealed contains sprintf("no image %s visible to tenant %s", [input.operation.params.image_id, tenant]) if {
	input.operation.params.image_id
	not visible
}

visible if image.owner == tenant

visible if image.visibility == "public"

visible if input.resource.membership.status == "accepted"

grounds contains sprintf("tenant %s owns image %s", [tenant, image.id]) if image.owner == tenant

grounds contains sprintf("tenant %s is an accepted member of image %s", [tenant, image.id]) if {
	image.owner != tenant
	input.resource.membership.status == "accepted"
}

visible_ids contains item.id if {
	some item in input.items
	item.owner == tenant
}
