package imagegate.roles_test

import rego.v1

import data.imagegate.fixtures as fx
import data.imagegate.roles

# The expected matrices are written out here, independently of data.json, so that a
# change to the shipped data that breaks either vocabulary fails a named case.

# Rackspace Cloud Images: the least role each operation needs (1 observer, 2 creator,
# 3 admin). Operations the published matrix leaves out follow the role descriptions.
rackspace_needs := {
	"versions.list": 1,
	"images.list": 1,
	"images.get": 1,
	"images.create": 2,
	"images.update": 3,
	"images.delete": 3,
	"images.upload": 3,
	"images.download": 1,
	"images.stage": 3,
	"images.import": 3,
	"images.deactivate": 3,
	"images.reactivate": 3,
	"images.tasks": 1,
	"tags.add": 2,
	"tags.delete": 2,
	"members.list": 1,
	"members.create": 2,
	"members.get": 1,
	"members.update": 3,
	"members.delete": 3,
	"tasks.list": 1,
	"tasks.create": 3,
	"tasks.get": 1,
	"schemas.get": 1,
	"info.import": 1,
	"info.stores": 1,
}

rackspace_tiers := {
	"cloudImages:observer": 1,
	"observer": 1,
	"cloudImages:creator": 2,
	"cloudImages:admin": 3,
	"admin": 3,
	"identity:user-admin": 3,
}

# OpenStack Glance personas: 1 reader, 2 member, 3 admin.
openstack_needs := {
	"versions.list": 1,
	"images.list": 1,
	"images.get": 1,
	"images.create": 2,
	"images.update": 2,
	"images.delete": 2,
	"images.upload": 2,
	"images.download": 2,
	"images.stage": 2,
	"images.import": 2,
	"images.deactivate": 2,
	"images.reactivate": 2,
	"images.tasks": 1,
	"tags.add": 2,
	"tags.delete": 2,
	"members.list": 1,
	"members.create": 2,
	"members.get": 1,
	"members.update": 2,
	"members.delete": 2,
	"tasks.list": 3,
	"tasks.create": 3,
	"tasks.get": 3,
	"schemas.get": 1,
	"info.import": 1,
	"info.stores": 1,
}

openstack_tiers := {"reader": 1, "member": 2, "admin": 3}

allowed(caller_roles, op) if {
	roles.allowed with input as fx.call({"op": op, "roles": caller_roles})
} else := false

verdict(true) := "allowed"

verdict(false) := "denied"

test_rackspace_matrix[name] if {
	some op, needed in rackspace_needs
	some role, tier in rackspace_tiers
	expected := tier >= needed
	name := sprintf("%s %s %s", [role, op, verdict(expected)])
	allowed([role], op) == expected
}

test_openstack_matrix[name] if {
	some op, needed in openstack_needs
	some role, tier in openstack_tiers
	expected := tier >= needed
	name := sprintf("%s %s %s", [role, op, verdict(expected)])
	allowed([role], op) == expected
}

test_matrices_name_every_operation if {
	object.keys(rackspace_needs) == roles.operations
	object.keys(openstack_needs) == roles.operations
}

# The more extensive role wins: permissions are the union of the caller's roles.
test_union_of_roles[name] if {
	some name, c in {
		"observer + cloudImages:admin deletes": {"roles": ["observer", "cloudImages:admin"], "op": "images.delete", "want": true},
		"admin + cloudImages:observer deletes": {"roles": ["admin", "cloudImages:observer"], "op": "images.delete", "want": true},
		"admin + cloudImages:observer creates tasks": {"roles": ["cloudImages:observer", "admin"], "op": "tasks.create", "want": true},
		"observer + cloudImages:creator tags": {"roles": ["observer", "cloudImages:creator"], "op": "tags.add", "want": true},
		"observer + cloudImages:creator does not delete": {"roles": ["observer", "cloudImages:creator"], "op": "images.delete", "want": false},
		"reader + member uploads": {"roles": ["reader", "member"], "op": "images.upload", "want": true},
		"reader + observer downloads": {"roles": ["reader", "observer"], "op": "images.download", "want": true},
		"reader + member still no tasks": {"roles": ["reader", "member"], "op": "tasks.list", "want": false},
	}
	allowed(c.roles, c.op) == c.want
}

test_roles_are_case_sensitive[role] if {
	some role in ["Admin", "ADMIN", "Reader", "cloudimages:observer", "CloudImages:Admin", " reader"]
	not allowed([role], "images.get")
}

test_unknown_and_missing_roles_deny[name] if {
	some name, caller_roles in {
		"no roles": [],
		"unknown role": ["images:creator"],
		"non-string roles": [1, true, null, {"role": "admin"}],
	}
	not allowed(caller_roles, "images.get")
}

test_roles_missing_from_principal if {
	not roles.allowed with input as {"operation": {"dialect": "glance", "name": "images.get"}, "principal": {"tenant": "t-1"}}
}

test_reasons_name_granting_roles if {
	roles.reasons == {
		"role cloudImages:observer grants images.get",
		"role observer grants images.get",
	} with input as fx.call({"roles": ["cloudImages:observer", "observer", "nothing"]})
}

test_reasons_name_all_roles_when_denied if {
	roles.reasons == {"no role of [reader] grants images.update"} with input as fx.call({"op": "images.update", "roles": ["reader"]})
	roles.reasons == {"no role of [reader, observer] grants tasks.create"} with input as fx.call({"op": "tasks.create", "roles": ["reader", "observer"]})
	roles.reasons == {"no role of [] grants images.get"} with input as fx.call({"roles": []})
}

test_cloud_admin[name] if {
	some name, c in {
		"admin": {"roles": ["admin"], "want": true},
		"admin among others": {"roles": ["reader", "admin"], "want": true},
		"identity:user-admin is no cloud admin": {"roles": ["identity:user-admin"], "want": false},
		"cloudImages:admin is no cloud admin": {"roles": ["cloudImages:admin"], "want": false},
		"member is no cloud admin": {"roles": ["member", "reader"], "want": false},
		"Admin is no cloud admin": {"roles": ["Admin"], "want": false},
	}
	got := is_cloud_admin(c.roles)
	got == c.want
}

is_cloud_admin(caller_roles) if {
	roles.cloud_admin with input as fx.call({"roles": caller_roles})
} else := false

test_cloud_admin_roles_named if {
	roles.cloud_admin_roles == {"admin"} with input as fx.call({"roles": ["member", "admin"]})
}

test_operator_changes_cloud_admin if {
	operator := {"imagegate:operator": true}
	not roles.cloud_admin with input as fx.call({"roles": ["admin"]}) with data.imagegate.rbac.cloud_admin as operator
	roles.cloud_admin with input as fx.call({"roles": ["imagegate:operator"]}) with data.imagegate.rbac.cloud_admin as operator
	not roles.cloud_admin with input as fx.call({"roles": ["admin"]}) with data.imagegate.rbac.cloud_admin as {}
}

test_operator_changes_role_tables if {
	tables := {"permissions": {"look": {"images.get": true}}, "roles": {"viewer": ["look"]}, "cloud_admin": {}}
	allowed(["viewer"], "images.get") with data.imagegate.rbac as tables
	not allowed(["viewer"], "images.list") with data.imagegate.rbac as tables
	not allowed(["admin"], "images.get") with data.imagegate.rbac as tables
}

test_no_role_data_denies_everything if {
	not allowed(["admin"], "images.get") with data.imagegate.rbac as {}
}

test_known_operations[op] if {
	some op in roles.operations
	roles.known with input as fx.call({"op": op})
	roles.unknown == set() with input as fx.call({"op": op})
}

test_unknown_operation if {
	not roles.known with input as fx.call({"op": "images.explode"})
	roles.unknown == {`unknown operation "images.explode"`} with input as fx.call({"op": "images.explode"})
}

test_other_dialect_not_covered if {
	not roles.known with input as fx.call({"dialect": "swift", "op": "images.get"})
	roles.unknown == {"dialect swift is not covered by this policy"} with input as fx.call({"dialect": "swift", "op": "images.get"})
}

test_gcore_operations_known[op] if {
	some op in roles.gcore_operations
	roles.known with input as fx.gcall({"op": op})
	roles.unknown == set() with input as fx.gcall({"op": op})
}

test_glance_only_operation_unknown_in_gcore if {
	roles.unknown == {`unknown operation "members.list"`} with input as fx.gcall({"op": "members.list"})
}

# The gcore role table (docs/gcore.md): what each role may run.
gcore_needs := {
	"images.list": "reader", "projectimages.list": "reader", "images.get": "reader",
	"metadata.list": "reader", "metadata_item.get": "reader",
	"images.create": "member", "images.update": "member", "images.delete": "member",
	"metadata.create": "member", "metadata.replace": "member", "metadata_item.delete": "member",
	"reseller_image.get": "reseller_admin", "reseller_image.set": "reseller_admin",
	"reseller_image.delete": "reseller_admin", "shared_image.list": "reseller_admin",
	"shared_image.set": "reseller_admin", "shared_image.delete": "reseller_admin",
}

gcore_rank := {"observer": 0, "reader": 0, "member": 1, "client_admin": 1, "reseller_admin": 2, "admin": 2}

test_gcore_role_table[name] if {
	some op, least in gcore_needs
	some role, rank in gcore_rank
	name := sprintf("%s %s", [role, op])
	want := rank >= gcore_rank[least]
	got := gcore_allowed(role, op)
	got == want
}

gcore_allowed(role, op) if {
	roles.allowed with input as fx.gcall({"op": op, "roles": [role]})
} else := false

test_gcore_table_covers_every_operation if {
	object.keys(gcore_needs) == roles.gcore_operations
}

test_gcore_admins if {
	roles.cloud_admin with input as fx.gcall({"roles": ["admin"]})
	not roles.cloud_admin with input as fx.gcall({"roles": ["reseller_admin"]})
	roles.reseller_admin with input as fx.gcall({"roles": ["reseller_admin"]})
	not roles.reseller_admin with input as fx.gcall({"roles": ["client_admin"]})
	not roles.reseller_admin with input as fx.call({"roles": ["reseller_admin"]})
	roles.reseller_admin with input as fx.call({"roles": ["reseller_admin"]}) with data.imagegate.rbac.reseller_admin as {"reseller_admin": true}
}

test_shipped_gcore_data_is_consistent if {
	every _, groups in data.imagegate.gcore.rbac.roles {
		every group in groups {
			data.imagegate.gcore.rbac.permissions[group]
		}
	}
	every _, ops in data.imagegate.gcore.rbac.permissions {
		every op, granted in ops {
			op in roles.gcore_operations
			granted == true
		}
	}
}

test_missing_operation if {
	req := {"principal": {"tenant": "t-1", "roles": ["admin"]}}
	not roles.known with input as req
	roles.operation == "" with input as req
	roles.unknown == {"dialect null is not covered by this policy", `unknown operation ""`} with input as req
}

test_operation_name_must_be_a_string if {
	roles.operation == "" with input as {"operation": {"dialect": "glance", "name": ["images.get"]}}
}

# Every group a role names exists, and every operation a group names is known: a typo in
# data.json would otherwise silently grant nothing.
test_shipped_data_is_consistent if {
	every _, groups in data.imagegate.rbac.roles {
		every group in groups {
			data.imagegate.rbac.permissions[group]
		}
	}
	every _, ops in data.imagegate.rbac.permissions {
		every op, granted in ops {
			op in roles.operations
			granted == true
		}
	}
}
