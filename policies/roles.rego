# Package imagegate.roles decides which of the caller's roles let it run an operation,
# and whether the caller is a cloud admin.
#
# The tables are data, not Rego: data.imagegate.rbac in policies/data.json for the Glance
# dialect, data.imagegate.gcore.rbac for the Gcore-style v1 dialect (same shape, plus
# reseller_admin: role name -> true for the admins of one reseller, docs/gcore.md).
#
#   permissions  group name -> {operation name: true}
#   roles        role name  -> [group name, ...]
#   cloud_admin  role name  -> true
#
# A caller may run an operation when any one of its roles lists a group that lists the
# operation: the effective permission is the union of the caller's roles, so the more
# extensive role always wins (observer + cloudImages:admin, or admin +
# cloudImages:observer, both give admin rights). Role names are compared exactly, case
# included.
#
# The shipped data covers two vocabularies:
#   Rackspace Cloud Images: identity:user-admin, cloudImages:admin, cloudImages:creator,
#     cloudImages:observer, and the multiproduct roles admin and observer;
#   OpenStack Glance secure RBAC personas: reader, member, admin, with Keystone's implied
#     roles already folded in (member holds every group of reader).
#
# The name `admin` is in both vocabularies. The shipped data reads it as OpenStack does:
# `admin` is a cloud admin (cloud_admin below), who sees every project's images, may make
# images public and may change owners and locations. A Rackspace-style deployment, where
# `admin` is only the admin of one customer account, must change cloud_admin in
# data.json, for example to {"imagegate:operator": true}, or to {} for no cloud admin at
# all; the role keeps its operation rights either way.
package imagegate.roles

import rego.v1

# operations is the operation vocabulary of the Glance dialect (the router's names).
operations := {
	"versions.list",
	"images.list",
	"images.create",
	"images.get",
	"images.update",
	"images.delete",
	"images.upload",
	"images.download",
	"images.stage",
	"images.import",
	"images.deactivate",
	"images.reactivate",
	"images.tasks",
	"tags.add",
	"tags.delete",
	"members.list",
	"members.create",
	"members.get",
	"members.update",
	"members.delete",
	"tasks.list",
	"tasks.create",
	"tasks.get",
	"schemas.get",
	"info.import",
	"info.stores",
}

# gcore_operations is the operation vocabulary of the Gcore-style v1 dialect.
gcore_operations := {
	"images.list",
	"images.create",
	"projectimages.list",
	"images.get",
	"images.update",
	"images.delete",
	"metadata.list",
	"metadata.create",
	"metadata.replace",
	"metadata_item.get",
	"metadata_item.delete",
	"reseller_image.get",
	"reseller_image.set",
	"reseller_image.delete",
	"shared_image.list",
	"shared_image.set",
	"shared_image.delete",
}

# dialect_operations are the vocabularies of the dialects these policies cover.
dialect_operations := {"glance": operations, "gcore": gcore_operations}

# dialect is the dialect of the requested operation, null when the input has none.
dialect := object.get(input, ["operation", "dialect"], null)

# role_groups, permissions, cloud_admin_table and reseller_admin_table are the role tables
# of the dialect (each named by its full path, so that `with` on one of them works).
role_groups := data.imagegate.gcore.rbac.roles if {
	dialect == "gcore"
} else := data.imagegate.rbac.roles

permissions := data.imagegate.gcore.rbac.permissions if {
	dialect == "gcore"
} else := data.imagegate.rbac.permissions

cloud_admin_table := data.imagegate.gcore.rbac.cloud_admin if {
	dialect == "gcore"
} else := data.imagegate.rbac.cloud_admin

reseller_admin_table := data.imagegate.gcore.rbac.reseller_admin if {
	dialect == "gcore"
} else := data.imagegate.rbac.reseller_admin

# operation is the name of the requested operation, "" when the input has none.
default operation := ""

operation := name if {
	name := input.operation.name
	is_string(name)
}

# known holds when the request is an operation of the dialect these policies cover.
known if {
	input.operation.name in dialect_operations[dialect]
}

# unknown explains why the request is not an operation these policies cover.
unknown contains sprintf("dialect %v is not covered by this policy", [dialect]) if {
	not dialect_operations[dialect]
}

unknown contains sprintf("unknown operation %q", [operation]) if {
	not operation in object.get(dialect_operations, [dialect], operations)
}

# caller_roles are the principal's roles (strings only, as given), for reasons.
caller_roles := [role |
	some role in input.principal.roles
	is_string(role)
]

# granting is the set of the caller's roles that grant the requested operation: those
# with a permission group that lists it. (A role that is not a string names no entry.)
granting contains role if {
	op := input.operation.name
	some role in input.principal.roles
	some group in role_groups[role]
	permissions[group][op] == true
}

# allowed holds when some role of the caller grants the requested operation.
allowed if count(granting) > 0

# reasons say which roles grant the operation, or that none does.
reasons contains sprintf("role %s grants %s", [role, input.operation.name]) if {
	some role in granting
}

reasons contains sprintf("no role of [%s] grants %s", [concat(", ", caller_roles), operation]) if {
	not allowed
}

# cloud_admin_roles are the caller's roles that make it a cloud admin.
cloud_admin_roles contains role if {
	some role in input.principal.roles
	cloud_admin_table[role] == true
}

# cloud_admin holds when the caller is a cloud admin: it sees every project's images and
# may make images public, change their owner and their locations.
cloud_admin if count(cloud_admin_roles) > 0

# reseller_admin_roles are the caller's roles that make it the admin of its own reseller
# (principal.reseller): it sets the image limits of that reseller only.
reseller_admin_roles contains role if {
	some role in input.principal.roles
	reseller_admin_table[role] == true
}

# reseller_admin holds when the caller is the admin of its reseller.
reseller_admin if count(reseller_admin_roles) > 0
