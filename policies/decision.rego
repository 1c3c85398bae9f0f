# Package imagegate answers the two questions imagegate asks (docs/policy-input.md):
#
#   data.imagegate.decision     once per request: may it be forwarded, and if not, why;
#   data.imagegate.visible_ids  once per list page: which of input.items the caller sees.
#
# The decision combines the other packages. The first check that fails decides:
#
#   1. input of another contract version           500 policy_error
#   2. no tenant in the principal                  403 forbidden
#   3. operation or dialect not covered            403 forbidden
#   4. malformed request (body, patch, filters)    400 bad_request
#   5. a project in the path not the caller's      403 forbidden (gcore dialect)
#   6. image missing or not visible to the caller  404 not_found, hide
#   7. no role of the caller grants the operation  403 forbidden
#   8. the change rules of images, members,        404 not_found, else 403 forbidden
#      metadata, reseller limits and shared images
#
# so that a caller learns whether an image exists only by seeing it, and nothing of the
# image before that. Every decision explains itself in `reasons`, allowed ones too.
package imagegate

import rego.v1

import data.imagegate.gcore
import data.imagegate.images
import data.imagegate.members
import data.imagegate.reseller
import data.imagegate.roles
import data.imagegate.visibility

# decision is the answer for this request.
decision := refusal(500, "policy_error", unsupported_input) if {
	count(unsupported_input) > 0
} else := refusal(403, "forbidden", no_tenant) if {
	count(no_tenant) > 0
} else := refusal(403, "forbidden", roles.unknown) if {
	not roles.known
} else := refusal(400, "bad_request", malformed) if {
	count(malformed) > 0
} else := refusal(403, "forbidden", out_of_scope) if {
	count(out_of_scope) > 0
} else := concealment if {
	count(concealed) > 0
} else := refusal(403, "forbidden", roles.reasons) if {
	not roles.allowed
} else := refusal(404, "not_found", not_found) if {
	count(not_found) > 0
} else := refusal(403, "forbidden", forbidden) if {
	count(forbidden) > 0
} else := permission

# visible_ids are the ids of input.items the caller may see (a set).
visible_ids := gcore.visible_ids if {
	input.operation.dialect == "gcore"
} else := visibility.visible_ids

# concealed explains why the image the operation names is answered as missing.
concealed := gcore.concealed if {
	input.operation.dialect == "gcore"
} else := visibility.concealed

# unsupported_input explains an input these policies were not written for.
unsupported_input contains sprintf("input version %v is not supported; this policy reads version 1", [version]) if {
	not input.version == 1
	version := object.get(input, "version", null)
}

# no_tenant explains a caller without a tenant: it owns nothing and is no member.
no_tenant contains "the caller has no tenant (project)" if visibility.tenant == ""

# concern names the package whose rules speak about the operation, beside roles and
# visibility: the decision asks only that one, and spares evaluating the others (a test
# checks that no package says anything about an operation it is not the concern of).
default concern := ""

concern := concerns[input.operation.name] if input.operation.dialect == "glance"

concern := gcore_concerns[input.operation.name] if input.operation.dialect == "gcore"

concerns := {
	"images.list": "list",
	"images.create": "images",
	"images.update": "images",
	"images.delete": "images",
	"images.upload": "images",
	"images.stage": "images",
	"images.import": "images",
	"images.deactivate": "images",
	"images.reactivate": "images",
	"tags.add": "images",
	"tags.delete": "images",
	"members.list": "members",
	"members.create": "members",
	"members.get": "members",
	"members.update": "members",
	"members.delete": "members",
}

# gcore_concerns are the concerns of the Gcore-style v1 dialect's operations.
gcore_concerns := object.union(
	{op: "gcore" | some op in roles.gcore_operations - reseller.operations},
	{op: "reseller" | some op in reseller.operations},
)

# malformed explains why the request itself is wrong, whatever image it names.
malformed := images.malformed if {
	concern == "images"
} else := members.malformed if {
	concern == "members"
} else := visibility.malformed if {
	concern == "list"
} else := gcore.malformed if {
	concern == "gcore"
} else := reseller.malformed if {
	concern == "reseller"
} else := set()

# out_of_scope explains why the caller may not act in the project the path names.
out_of_scope := gcore.out_of_scope if {
	concern == "gcore"
} else := set()

# not_found explains why the caller may not reach the members it asks for.
not_found := members.not_found if {
	concern == "members"
} else := set()

# forbidden explains why a change to an image the caller sees is refused.
forbidden := images.forbidden if {
	concern == "images"
} else := members.forbidden if {
	concern == "members"
} else := gcore.forbidden if {
	concern == "gcore"
} else := reseller.forbidden if {
	concern == "reseller"
} else := set()

# grounds explain, beside the roles, why the request is allowed.
grounds := visibility.grounds | images.grounds if {
	concern == "images"
} else := visibility.grounds | members.grounds if {
	concern == "members"
} else := gcore.grounds if {
	concern == "gcore"
} else := reseller.grounds if {
	concern == "reseller"
} else := visibility.grounds | list_grounds

list_grounds contains sprintf("the list is filtered to the images tenant %s sees", [visibility.tenant]) if {
	input.operation.name == "images.list"
}

# filter is the obligation on an allowed response.
default filter := ""

filter := "images" if {
	input.operation.dialect == "glance"
	input.operation.name == "images.list"
}

filter := "image" if input.operation.name == "images.get"

# A v1 list answers {"count", "results"}: filtered through visible_ids, count adjusted.
filter := "results" if {
	input.operation.dialect == "gcore"
	input.operation.name in gcore.list_operations
}

# An upstream that trusts the proxy's service identity answers every member of an image
# and every task; a caller who does not manage them sees only its own.
filter := "members" if {
	input.operation.name == "members.list"
	not members.steward
}

filter := "tasks" if {
	input.operation.name == "tasks.list"
	not roles.cloud_admin
}

filter := "task" if {
	input.operation.name == "tasks.get"
	not roles.cloud_admin
}

permission := {
	"allow": true,
	"status": 200,
	"code": "ok",
	"reasons": array.concat(sort(roles.reasons), sort(grounds)),
	"hide": false,
	"filter": filter,
}

concealment := {
	"allow": false,
	"status": 404,
	"code": "not_found",
	"reasons": sort(concealed),
	"hide": true,
	"filter": "",
}

refusal(status, code, reasons) := {
	"allow": false,
	"status": status,
	"code": code,
	"reasons": sort(reasons),
	"hide": false,
	"filter": "",
}
