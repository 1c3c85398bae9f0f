# Package imagegate.visibility decides which images a tenant sees (DESIGN.md §3):
# one image reached by id (`visible`), and the images of a list page (`visible_ids`).
#
# A tenant T sees an image I by id when
#   - T owns I,
#   - I is public or community,
#   - I is shared and T is a member of it, whatever the membership's status,
#   - or the caller is a cloud admin.
# For a caller whose reseller limits the public images of the region (package reseller),
# a public image it does not own is seen only when the limit allows it or it is shared
# with one of the caller's entities, by id and in lists; a cloud admin is not limited.
# A private image is its owner's alone. An image the caller does not see is answered
# with 404 on every path under it, so that nothing tells it exists.
#
# Lists follow Glance: a tenant's default list holds its own images, public images, and
# the shared images it accepted; community images of others and memberships still
# pending or rejected appear only when the query asks for them (visibility=community or
# all; member_status=pending, rejected or all). A cloud admin lists everything but other
# projects' community images, unless it asks for them.
package imagegate.visibility

import rego.v1

import data.imagegate.reseller
import data.imagegate.roles

# tenant is the caller's tenant (project), "" when it has none.
default tenant := ""

tenant := t if {
	t := input.principal.tenant
	is_string(t)
}

# image is the record of the image the operation names; {} when the proxy found none
# (resource.image null, or a record without an id).
default image := {}

image := record if {
	record := input.resource.image
	is_string(record.id)
	record.id != ""
}

# image_exists holds when the proxy found the image the operation names.
image_exists if image.id

# image_scoped holds when the operation works on one image (its path names one).
image_scoped if input.operation.params.image_id

image_scoped if roles.operation in image_operations

# image_operations are the operations whose path is under /v2/images/{image_id}.
image_operations := {
	"images.get", "images.update", "images.delete", "images.upload", "images.download",
	"images.stage", "images.import", "images.deactivate", "images.reactivate", "images.tasks",
	"tags.add", "tags.delete",
	"members.list", "members.create", "members.get", "members.update", "members.delete",
}

# image_label names the image in reasons: its id, else the id the path gave.
image_label := image.id if {
	image_exists
} else := id if {
	id := input.operation.params.image_id
	is_string(id)
} else := "(none)"

# member holds when the caller has a membership of the image, whatever its status.
member if {
	tenant != ""
	input.resource.membership.member_id == tenant
}

# sight says why the caller sees the image, naming the first rule that lets it: it owns
# the image, the image is public or community, the caller is a member, or it is a cloud
# admin. Undefined when the caller does not see the image.
sight := sprintf("tenant %s owns image %s", [tenant, image.id]) if {
	tenant != ""
	image.owner == tenant
} else := sprintf("image %s is %s", [image.id, image.visibility]) if {
	image.visibility == "community"
} else := sprintf("image %s is public", [image.id]) if {
	image.visibility == "public"
	reseller.public_available(image.id)
} else := sprintf("tenant %s is a member (%v) of shared image %s", [tenant, input.resource.membership.status, image.id]) if {
	image.visibility == "shared"
	member
} else := sprintf("role %s makes the caller a cloud admin, who sees every image", [concat(", ", sort(roles.cloud_admin_roles))]) if {
	image_exists
	roles.cloud_admin
}

# visible holds when the caller sees the image the operation names.
visible if is_string(sight)

# grounds holds sight, for the decision's reasons; empty when the caller does not see
# the image.
grounds contains sight

# concealed explains a request under an image that does not exist or the caller does not
# see. Both read the same, so that the answer says nothing of the image.
concealed contains sprintf("no image %s visible to tenant %s", [image_label, tenant]) if {
	image_scoped
	not visible
}

# owns holds when the caller owns the image or list item x.
owns(x) if {
	tenant != ""
	x.owner == tenant
}

# ----------------------------------------------------------------------------------------
# Lists

# list_filters are the query parameters that change which images a list holds, and the
# values each may take.
list_filters := {
	"visibility": {"public", "private", "shared", "community", "all"},
	"member_status": {"accepted", "pending", "rejected", "all"},
}

# malformed explains list filters that are not exactly one known value: the proxy and the
# upstream must read the same filter, so a repeated or unknown one is refused.
malformed contains msg if {
	input.operation.name == "images.list"
	some param, allowed_values in list_filters
	values := input.request.query[param]
	not single_value_in(values, allowed_values)
	msg := sprintf("query parameter %s must be given once, as one of: %s", [param, concat(", ", sort(allowed_values))])
}

single_value_in(values, allowed_values) if {
	[value] := values
	value in allowed_values
}

# requested_visibility is the list's visibility filter, "default" when none is given.
default requested_visibility := "default"

requested_visibility := value if {
	[value] := input.request.query.visibility
}

# requested_member_status is the list's member_status filter, accepted by default.
default requested_member_status := "accepted"

requested_member_status := value if {
	[value] := input.request.query.member_status
}

# visible_ids are the ids of input.items the caller may see. For images.list they follow
# the list rules and the query's filters; for any other operation (the single image of an
# images.get response, checked as a one-item page) they follow the by-id rules.
#
# The rules are turned into two small tables once per page (own_visibilities and
# others_view below); each item then costs one or two lookups, so the cost is linear in
# the page and nothing is scanned per item.
visible_ids contains item.id if {
	count(malformed) == 0
	caller := tenant
	caller != ""
	own := own_visibilities
	some item in input.items
	item.owner == caller
	own[item.visibility]
}

visible_ids contains item.id if {
	count(malformed) == 0
	view := others_view
	some item in input.items
	view[item.visibility][item.member_status]
	not withheld(item)
}

# withheld holds for a public image the caller's reseller limit does not allow.
withheld(item) if {
	reseller.limited
	item.visibility == "public"
	not roles.cloud_admin
	not reseller.public_available(item.id)
}

# listing holds when the items are a list page, not one image reached by id.
listing if input.operation.name == "images.list"

visibilities := {"public", "private", "shared", "community"}

# own_visibilities are the visibilities of its own images the caller sees here.
own_visibilities := visibilities if {
	not listing
} else := visibilities if {
	requested_visibility in {"default", "all"}
} else := {requested_visibility} & visibilities

# others_visibilities are the visibilities of other tenants' images the query lets
# through: by id all of them; in a default list all but community.
others_visibilities := visibilities if {
	not listing
} else := visibilities if {
	requested_visibility == "all"
} else := visibilities - {"community"} if {
	requested_visibility == "default"
} else := {requested_visibility} & visibilities

# any_status holds every value an item's member_status can take.
any_status := {null: true, "accepted": true, "pending": true, "rejected": true}

# member_view are the membership statuses under which the caller sees another tenant's
# shared image here: any by id; in a list those of the member_status filter.
member_view := {status: true | some status in ["accepted", "pending", "rejected"]} if {
	not listing
} else := {status: true | some status in ["accepted", "pending", "rejected"]} if {
	requested_member_status == "all"
} else := {requested_member_status: true}

# others_view maps the visibility of another tenant's image to the member_status values
# under which the caller sees it: a cloud admin sees every image the query lets through.
others_view := {v: any_status | some v in others_visibilities} if {
	roles.cloud_admin
} else := {v: statuses | some v in others_visibilities; statuses := tenant_view[v]}

tenant_view := {"public": any_status, "community": any_status, "shared": member_view}
