package imagegate_test

import rego.v1

import data.imagegate.fixtures as fx

decide(spec) := d if {
	d := data.imagegate.decision with input as fx.call(spec)
}

denial(status, code, reasons) := {"allow": false, "status": status, "code": code, "reasons": reasons, "hide": false, "filter": ""}

hidden(reasons) := {"allow": false, "status": 404, "code": "not_found", "reasons": reasons, "hide": true, "filter": ""}

granted(reasons, filter) := {"allow": true, "status": 200, "code": "ok", "reasons": reasons, "hide": false, "filter": filter}

member_of_shared := {
	"tenant": fx.member, "image": fx.image("shared"),
	"membership": fx.membership(fx.member, "pending"),
}

# ----------------------------------------------------------------------------------------
# Every operation, end to end: a caller entitled to it is allowed; the same caller
# without a granting role is refused with 403 and told which roles it holds.

entitled := {
	"versions.list": {"params": {}},
	"images.list": {"params": {}},
	"images.create": {"params": {}, "body": {"name": "debian"}},
	"images.get": {"image": fx.image("shared")},
	"images.update": {"image": fx.image("shared"), "patch": [fx.patch("replace", "name", "x")]},
	"images.delete": {"image": fx.image("shared")},
	"images.upload": {"image": fx.image("shared")},
	"images.download": {"image": fx.image("shared")},
	"images.stage": {"image": fx.image("shared")},
	"images.import": {"image": fx.image("shared"), "body": {"method": {"name": "glance-direct"}}},
	"images.deactivate": {"image": fx.image("shared")},
	"images.reactivate": {"image": fx.image("shared")},
	"images.tasks": {"image": fx.image("shared")},
	"tags.add": {"image": fx.image("shared"), "params": {"image_id": fx.image_id, "tag": "debian"}},
	"tags.delete": {"image": fx.image("shared"), "params": {"image_id": fx.image_id, "tag": "debian"}},
	"members.list": {"image": fx.image("shared")},
	"members.create": {"image": fx.image("shared"), "body": {"member": fx.member}},
	"members.get": {"image": fx.image("shared"), "params": {"image_id": fx.image_id, "member_id": fx.member}},
	"members.update": object.union(member_of_shared, {"params": {"image_id": fx.image_id, "member_id": fx.member}, "body": {"status": "accepted"}}),
	"members.delete": {"image": fx.image("shared"), "params": {"image_id": fx.image_id, "member_id": fx.member}},
	"tasks.list": {"params": {}},
	"tasks.create": {"params": {}, "body": {"type": "import", "input": {}}},
	"tasks.get": {"params": {"task_id": "task-1"}},
	"schemas.get": {"params": {"schema": "image"}},
	"info.import": {"params": {}},
	"info.stores": {"params": {}},
}

filters := {"images.list": "images", "images.get": "image", "tasks.list": "tasks", "tasks.get": "task"}

test_every_operation_allowed_when_entitled[op] if {
	some op, spec in entitled
	d := decide(object.union(spec, {"op": op, "roles": ["identity:user-admin"]}))
	d.allow == true
	d.status == 200
	d.code == "ok"
	d.hide == false
	d.filter == object.get(filters, op, "")
	d.reasons[0] == sprintf("role identity:user-admin grants %s", [op])
}

test_every_operation_refused_without_a_role[op] if {
	some op, spec in entitled
	d := decide(object.union(spec, {"op": op, "roles": ["images:creator"]}))
	d == denial(403, "forbidden", [sprintf("no role of [images:creator] grants %s", [op])])
}

test_every_operation_follows_the_persona_matrix[name] if {
	some op, spec in entitled
	some role in ["reader", "member", "admin", "observer", "cloudImages:observer", "cloudImages:creator", "cloudImages:admin"]
	name := sprintf("%s %s", [role, op])
	d := decide(object.union(spec, {"op": op, "roles": [role]}))
	d.allow == role_allows(role, op)
}

role_allows(role, op) if {
	data.imagegate.roles.allowed with input as fx.call({"op": op, "roles": [role]})
} else := false

# ----------------------------------------------------------------------------------------
# Decisions, whole

test_observer_reads_a_public_image if {
	decide({"tenant": fx.stranger, "roles": ["cloudImages:observer"], "image": fx.image("public")}) == granted(
		["role cloudImages:observer grants images.get", "image img-1 is public"],
		"image",
	)
}

test_reader_lists_images if {
	decide({"op": "images.list", "params": {}, "roles": ["reader"]}) == granted(
		["role reader grants images.list", "the list is filtered to the images tenant t-owner sees"],
		"images",
	)
}

test_owner_updates_its_image if {
	decide({"op": "images.update", "roles": ["member", "reader"], "image": fx.image("private"), "patch": [fx.patch("replace", "name", "x")]}) == granted(
		["role member grants images.update", "tenant t-owner owns image img-1"],
		"",
	)
}

test_member_accepts_a_share if {
	d := decide(object.union(member_of_shared, {
		"op": "members.update", "roles": ["cloudImages:admin", "observer"],
		"params": {"image_id": fx.image_id, "member_id": fx.member}, "body": {"status": "accepted"},
	}))
	d == granted(
		[
			"role cloudImages:admin grants members.update",
			"tenant t-member changes its own membership of image img-1",
			"tenant t-member is a member (pending) of shared image img-1",
		],
		"",
	)
}

test_cloud_admin_publicizes_an_image if {
	d := decide({"op": "images.update", "tenant": fx.stranger, "roles": ["admin"], "image": fx.image("shared"), "patch": [fx.patch("replace", "visibility", "public")]})
	d == granted(
		[
			"role admin grants images.update",
			"a cloud admin makes image img-1 public",
			"a cloud admin may change image img-1",
			"role admin makes the caller a cloud admin, who sees every image",
		],
		"",
	)
}

test_admin_creates_a_task if {
	decide({"op": "tasks.create", "params": {}, "roles": ["admin"], "body": {"type": "import"}}) == granted(["role admin grants tasks.create"], "")
}

test_member_creates_no_task if {
	decide({"op": "tasks.create", "params": {}, "roles": ["member", "reader"]}) == denial(403, "forbidden", ["no role of [member, reader] grants tasks.create"])
}

test_unsupported_input_version[name] if {
	some name, c in {
		"version 2": {"spec": {"version": 2}, "reason": "input version 2 is not supported; this policy reads version 1"},
		"version as a string": {"spec": {"version": "1"}, "reason": "input version 1 is not supported; this policy reads version 1"},
	}
	decide(c.spec) == denial(500, "policy_error", [c.reason])
}

test_missing_input_version if {
	d := data.imagegate.decision with input as object.remove(fx.call({}), ["version"])
	d == denial(500, "policy_error", ["input version null is not supported; this policy reads version 1"])
}

test_caller_without_tenant if {
	decide({"tenant": "", "roles": ["admin"], "image": fx.image("public")}) == denial(403, "forbidden", ["the caller has no tenant (project)"])
}

test_unknown_operation if {
	decide({"op": "images.explode", "roles": ["admin"]}) == denial(403, "forbidden", [`unknown operation "images.explode"`])
}

test_other_dialect if {
	decide({"dialect": "swift", "op": "images.get", "roles": ["admin"]}) == denial(403, "forbidden", ["dialect swift is not covered by this policy"])
}

test_malformed_request if {
	decide({"op": "members.create", "image": fx.image("shared"), "body": {}}) == denial(400, "bad_request", [`members.create needs a body {"member": "<tenant id>"} with a non-empty member`])
	decide({"op": "images.list", "params": {}, "query": {"visibility": ["all", "public"]}}) == denial(400, "bad_request", ["query parameter visibility must be given once, as one of: all, community, private, public, shared"])
	decide({"op": "images.update", "image": fx.image("shared"), "patch": [fx.patch("move", "name", "x")]}) == denial(400, "bad_request", ["patch operation 0: op move is not one of add, remove, replace"])
}

test_missing_and_invisible_images_answer_the_same[name] if {
	some name, spec in {
		"missing image": {"tenant": fx.stranger, "image": null},
		"empty image record": {"tenant": fx.stranger, "image": {}},
		"private image of another": {"tenant": fx.stranger, "image": fx.image("private")},
		"shared image, no membership": {"tenant": fx.stranger, "image": fx.image("shared")},
	}
	decide(spec) == hidden(["no image img-1 visible to tenant t-stranger"])
}

image_operations := {op | some op, spec in entitled; spec.image}

test_image_operations_are_those_under_an_image if {
	image_operations == data.imagegate.visibility.image_operations
}

test_invisible_image_hides_every_operation_under_it[op] if {
	some op in image_operations
	spec := entitled[op]
	d := decide(object.union(spec, {"op": op, "tenant": fx.stranger, "roles": ["admin"], "image": null}))
	d == hidden(["no image img-1 visible to tenant t-stranger"])
}

test_visible_image_not_changeable_answers_403 if {
	d := decide({"op": "images.delete", "tenant": fx.stranger, "image": fx.image("public")})
	d == denial(403, "forbidden", ["tenant t-stranger does not own image img-1"])
}

test_membership_out_of_sight_answers_404_without_hiding_the_image if {
	d := decide({"op": "members.list", "tenant": fx.stranger, "image": fx.image("public")})
	d == denial(404, "not_found", ["tenant t-stranger sees no members of image img-1"])
}

test_owner_cannot_accept_for_its_member if {
	d := decide({
		"op": "members.update", "image": fx.image("shared"),
		"params": {"image_id": fx.image_id, "member_id": fx.member}, "body": {"status": "accepted"},
	})
	d == denial(403, "forbidden", ["only member t-member itself changes its status"])
}

test_refusals_list_every_reason if {
	d := decide({"op": "images.update", "image": fx.image("shared"), "patch": [fx.patch("replace", "owner", "x"), fx.patch("add", "status", "active")]})
	d == denial(403, "forbidden", ["only a cloud admin changes the owner of an image", "property status is read-only"])
}

# ----------------------------------------------------------------------------------------
# Precedence: version > tenant > operation > malformed 400 > hidden 404 > role 403 >
# change rules.

test_precedence[name] if {
	some name, c in {
		"version before tenant": {"spec": {"version": 0, "tenant": ""}, "status": 500},
		"tenant before operation": {"spec": {"tenant": "", "op": "images.explode"}, "status": 403, "reason": "the caller has no tenant (project)"},
		"operation before hiding": {"spec": {"op": "images.explode", "image": null}, "status": 403, "reason": `unknown operation "images.explode"`},
		"malformed before hiding": {"spec": {"op": "members.update", "tenant": fx.stranger, "image": null, "body": {"status": "maybe"}}, "status": 400},
		"malformed before role": {"spec": {"op": "members.update", "roles": ["reader"], "image": fx.image("shared"), "body": {}}, "status": 400},
		"hiding before role": {"spec": {"op": "images.download", "tenant": fx.stranger, "roles": ["reader"], "image": fx.image("private")}, "status": 404, "hide": true},
		"hiding without any role": {"spec": {"op": "members.list", "tenant": fx.stranger, "roles": [], "image": null}, "status": 404, "hide": true},
		"role before change rules": {
			"spec": {"op": "images.update", "tenant": fx.stranger, "roles": ["reader"], "image": fx.image("public"), "patch": [fx.patch("replace", "status", "x")]},
			"status": 403, "reason": "no role of [reader] grants images.update",
		},
		"role before member rules": {
			"spec": {"op": "members.delete", "tenant": fx.stranger, "roles": ["cloudImages:creator"], "image": fx.image("public"), "params": {"image_id": fx.image_id, "member_id": fx.member}},
			"status": 403, "reason": "no role of [cloudImages:creator] grants members.delete",
		},
		"visible without download role": {"spec": {"op": "images.download", "tenant": fx.stranger, "roles": ["reader"], "image": fx.image("public")}, "status": 403, "reason": "no role of [reader] grants images.download"},
	}
	d := decide(c.spec)
	d.allow == false
	d.status == c.status
	d.hide == object.get(c, "hide", false)
	object.get(c, "reason", d.reasons[0]) == d.reasons[0]
}

test_decision_shape[name] if {
	some name, spec in {
		"allowed": {"image": fx.image("private")},
		"refused": {"roles": []},
		"hidden": {"image": null},
		"malformed": {"op": "members.create", "image": fx.image("shared")},
	}
	d := decide(spec)
	object.keys(d) == {"allow", "status", "code", "reasons", "hide", "filter"}
	is_boolean(d.allow)
	is_number(d.status)
	is_string(d.code)
	is_array(d.reasons)
	count(d.reasons) > 0
	is_boolean(d.hide)
	is_string(d.filter)
}

# ----------------------------------------------------------------------------------------
# visible_ids

test_visible_ids_filters_a_page if {
	items := [
		{"id": "mine", "owner": fx.owner, "visibility": "private", "member_status": null},
		{"id": "theirs", "owner": fx.stranger, "visibility": "private", "member_status": null},
		{"id": "public", "owner": fx.stranger, "visibility": "public", "member_status": null},
		{"id": "pending", "owner": fx.stranger, "visibility": "shared", "member_status": "pending"},
	]
	spec := {"op": "images.list", "params": {}, "roles": ["reader"], "items": items}
	ids := data.imagegate.visible_ids with input as fx.call(spec)
	ids == {"mine", "public"}
	pending := data.imagegate.visible_ids with input as fx.call(object.union(spec, {"query": {"member_status": ["pending"]}}))
	pending == {"mine", "public", "pending"}
}

# ----------------------------------------------------------------------------------------
# The decision asks images, members and the list filter only about the operations
# data.imagegate.concerns gives them. Whatever the request, no package says anything
# about another operation: an entry missing there would skip the package's rules.

provocations := {
	"a stranger with every kind of bad request": {
		"tenant": fx.stranger,
		"image": object.union(fx.image("shared"), {"protected": true}),
		"membership": fx.membership(fx.member, "accepted"),
		"params": {"image_id": fx.image_id, "member_id": fx.member},
		"query": {"visibility": ["secret"], "member_status": ["maybe"]},
		"body": {"member": "", "status": "maybe", "owner": fx.stranger, "visibility": "public", "locations": [], "status_x": 1, "os_glance_x": 1},
		"patch": [fx.patch("move", "owner", "x"), fx.patch("add", "com.rackspace.x", "y"), fx.patch("replace", "visibility", "community")],
	},
	"a member with empty documents": object.union(member_of_shared, {
		"params": {"image_id": fx.image_id, "member_id": fx.member},
		"body": {}, "patch": {},
	}),
	"the owner of a private image": {
		"image": fx.image("private"),
		"params": {"image_id": fx.image_id, "member_id": fx.member},
		"body": ["not an object"], "patch": [1],
	},
}

said(spec) := s if {
	s := {
		"images": ((data.imagegate.images.malformed | data.imagegate.images.forbidden) | data.imagegate.images.grounds),
		"members": (((data.imagegate.members.malformed | data.imagegate.members.forbidden) | data.imagegate.members.not_found) | data.imagegate.members.grounds),
		"list": data.imagegate.visibility.malformed,
	} with input as fx.call(spec)
}

test_packages_speak_only_of_their_concerns[name] if {
	some op in data.imagegate.roles.operations
	some provocation, spec in provocations
	name := sprintf("%s: %s", [op, provocation])
	says := said(object.union(spec, {"op": op}))
	concern := object.get(data.imagegate.concerns, op, "")
	every pkg, reasons in says {
		silent_unless_concerned(pkg, concern, reasons)
	}
}

silent_unless_concerned(pkg, concern, _) if pkg == concern

silent_unless_concerned(pkg, concern, reasons) if {
	pkg != concern
	reasons == set()
}

# The provocations do provoke: each package speaks about its own operations.
test_provocations_provoke[op] if {
	some op in ["images.update", "images.create", "members.create", "members.update", "images.list"]
	concern := data.imagegate.concerns[op]
	some spec in provocations
	count(said(object.union(spec, {"op": op}))[concern]) > 0
}

# ----------------------------------------------------------------------------------------
# Obligations on member and task lists: only those who manage them see them all.

test_member_sees_only_its_own_membership_in_lists if {
	d := decide(object.union(member_of_shared, {"op": "members.list", "roles": ["member", "reader"]}))
	d.allow == true
	d.filter == "members"
}

test_owner_sees_every_member if {
	d := decide({"op": "members.list", "image": fx.image("shared"), "roles": ["member", "reader"]})
	d.allow == true
	d.filter == ""
}

test_cloud_admin_sees_every_member if {
	d := decide({"op": "members.list", "tenant": fx.stranger, "image": fx.image("shared"), "roles": ["admin"]})
	d.allow == true
	d.filter == ""
}

test_tasks_filtered_for_non_admins if {
	d := decide({"op": "tasks.list", "params": {}, "roles": ["cloudImages:observer"]})
	d.allow == true
	d.filter == "tasks"
	g := decide({"op": "tasks.get", "params": {"task_id": "task-1"}, "roles": ["cloudImages:observer"]})
	g.allow == true
	g.filter == "task"
}

test_tasks_unfiltered_for_cloud_admins if {
	d := decide({"op": "tasks.list", "params": {}, "roles": ["admin"]})
	d.allow == true
	d.filter == ""
}
