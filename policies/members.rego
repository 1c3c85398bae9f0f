# Package imagegate.members decides who may read and change the members of an image
# (image sharing, API-NOTES.md §A Members). It speaks only about an image the caller
# sees and about operations its roles allow: imagegate.decision checks both first.
#
#   - only the owner (or a cloud admin) adds and removes members, and only on a shared
#     image ("Only shared images have members"); anyone else adding one gets 404;
#   - only the member itself changes its status: the owner gets 403, others 404;
#   - a member cannot remove its own membership (403);
#   - the owner lists and reads every member; a member lists and reads only its own
#     membership; anyone else gets 404, because it sees no membership at all.
# Member ids are tenant ids.
package imagegate.members

import rego.v1

import data.imagegate.roles
import data.imagegate.visibility

tenant := visibility.tenant

image := visibility.image

image_label := visibility.image_label

# member_id is the member the path names, "" when it names none.
default member_id := ""

member_id := id if {
	id := input.operation.params.member_id
	is_string(id)
}

# statuses are the membership statuses a member may set.
statuses := {"accepted", "rejected", "pending"}

# steward holds when the caller manages the image's members: its owner or a cloud admin.
steward if visibility.owns(image)

steward if roles.cloud_admin

# own_membership holds when the path names the caller's own membership of the image.
own_membership if {
	visibility.member
	member_id == tenant
}

# shared holds when the image may have members.
shared if image.visibility == "shared"

# malformed explains request bodies that are not what the operation takes (400).
malformed contains `members.create needs a body {"member": "<tenant id>"} with a non-empty member` if {
	input.operation.name == "members.create"
	not valid_member_body
}

malformed contains `members.update needs a body {"status": "accepted" | "rejected" | "pending"}` if {
	input.operation.name == "members.update"
	not valid_status_body
}

valid_member_body if {
	new_member := input.request.body.member
	is_string(new_member)
	new_member != ""
}

valid_status_body if input.request.body.status in statuses

# not_found explains why the caller may not reach the members it asks for (404).
not_found contains sprintf("only the owner of image %s adds members", [image_label]) if {
	input.operation.name == "members.create"
	not steward
}

not_found contains sprintf("tenant %s sees no members of image %s", [tenant, image_label]) if {
	input.operation.name == "members.list"
	not steward
	not visibility.member
}

not_found contains sprintf("tenant %s sees no member %s of image %s", [tenant, member_id, image_label]) if {
	input.operation.name in {"members.get", "members.update", "members.delete"}
	not steward
	not own_membership
}

# forbidden explains why the caller may not change the members it sees (403).
forbidden contains "Only shared images have members" if {
	input.operation.name in {"members.create", "members.delete"}
	steward
	not shared
}

forbidden contains sprintf("only member %s itself changes its status", [member_id]) if {
	input.operation.name == "members.update"
	steward
	not own_membership
}

forbidden contains sprintf("only the owner of image %s removes members, not the member itself", [image_label]) if {
	input.operation.name == "members.delete"
	not steward
	own_membership
}

# grounds explain an allowed request.
grounds contains sprintf("tenant %s manages the members of image %s", [tenant, image_label]) if {
	input.operation.name in {"members.list", "members.get", "members.create", "members.delete"}
	steward
}

grounds contains sprintf("tenant %s sees only its own membership of image %s", [tenant, image_label]) if {
	input.operation.name == "members.list"
	not steward
	visibility.member
}

grounds contains sprintf("tenant %s reads its own membership of image %s", [tenant, image_label]) if {
	input.operation.name == "members.get"
	not steward
	own_membership
}

grounds contains sprintf("tenant %s changes its own membership of image %s", [tenant, image_label]) if {
	input.operation.name == "members.update"
	own_membership
}
