package imagegate.visibility_test

import rego.v1

import data.imagegate.fixtures as fx
import data.imagegate.visibility

# ----------------------------------------------------------------------------------------
# One image, by id: given a tenant and an image, does the tenant see it, and why.

sees(spec) if {
	visibility.visible with input as fx.call(spec)
} else := false

grounds(spec) := g if {
	g := visibility.grounds with input as fx.call(spec)
}

concealed(spec) := c if {
	c := visibility.concealed with input as fx.call(spec)
}

test_by_id[name] if {
	some name, c in {
		"owner sees its private image": {"tenant": fx.owner, "image": fx.image("private"), "want": true},
		"owner sees its shared image": {"tenant": fx.owner, "image": fx.image("shared"), "want": true},
		"owner sees its community image": {"tenant": fx.owner, "image": fx.image("community"), "want": true},
		"another tenant does not see a private image": {"tenant": fx.stranger, "image": fx.image("private"), "want": false},
		"another tenant sees a public image": {"tenant": fx.stranger, "image": fx.image("public"), "want": true},
		"another tenant sees a community image": {"tenant": fx.stranger, "image": fx.image("community"), "want": true},
		"a non-member does not see a shared image": {"tenant": fx.stranger, "image": fx.image("shared"), "want": false},
		"an accepted member sees a shared image": {"tenant": fx.member, "image": fx.image("shared"), "membership": fx.membership(fx.member, "accepted"), "want": true},
		"a pending member sees a shared image": {"tenant": fx.member, "image": fx.image("shared"), "membership": fx.membership(fx.member, "pending"), "want": true},
		"a rejected member sees a shared image": {"tenant": fx.member, "image": fx.image("shared"), "membership": fx.membership(fx.member, "rejected"), "want": true},
		"a membership of a private image shows nothing": {"tenant": fx.member, "image": fx.image("private"), "membership": fx.membership(fx.member, "accepted"), "want": false},
		"another tenant's membership shows nothing": {"tenant": fx.stranger, "image": fx.image("shared"), "membership": fx.membership(fx.member, "accepted"), "want": false},
		"a cloud admin sees another's private image": {"tenant": fx.stranger, "roles": ["admin"], "image": fx.image("private"), "want": true},
		"a cloud admin sees another's shared image": {"tenant": fx.stranger, "roles": ["admin", "member", "reader"], "image": fx.image("shared"), "want": true},
		"identity:user-admin is no cloud admin": {"tenant": fx.stranger, "roles": ["identity:user-admin"], "image": fx.image("private"), "want": false},
		"no one sees a missing image": {"tenant": fx.owner, "image": null, "want": false},
		"no one sees an empty image record": {"tenant": fx.owner, "image": {}, "want": false},
		"a cloud admin does not see a missing image": {"tenant": fx.owner, "roles": ["admin"], "image": null, "want": false},
		"a tenantless caller owns nothing": {"tenant": "", "image": object.union(fx.image("private"), {"owner": ""}), "want": false},
		"a tenantless caller is no member": {"tenant": "", "image": fx.image("shared"), "membership": fx.membership("", "accepted"), "want": false},
	}
	sees(c) == c.want
}

test_grounds_explain_each_rule[name] if {
	some name, c in {
		"owner": {"spec": {"tenant": fx.owner, "image": fx.image("private")}, "want": {"tenant t-owner owns image img-1"}},
		"public": {"spec": {"tenant": fx.stranger, "image": fx.image("public")}, "want": {"image img-1 is public"}},
		"community": {"spec": {"tenant": fx.stranger, "image": fx.image("community")}, "want": {"image img-1 is community"}},
		"member": {
			"spec": {"tenant": fx.member, "image": fx.image("shared"), "membership": fx.membership(fx.member, "pending")},
			"want": {"tenant t-member is a member (pending) of shared image img-1"},
		},
		"cloud admin": {
			"spec": {"tenant": fx.stranger, "roles": ["admin"], "image": fx.image("private")},
			"want": {"role admin makes the caller a cloud admin, who sees every image"},
		},
		"owner of a public image: the first rule that lets it see": {
			"spec": {"tenant": fx.owner, "image": fx.image("public")},
			"want": {"tenant t-owner owns image img-1"},
		},
		"owner and cloud admin": {
			"spec": {"tenant": fx.owner, "roles": ["admin"], "image": fx.image("private")},
			"want": {"tenant t-owner owns image img-1"},
		},
		"no sight, no grounds": {
			"spec": {"tenant": fx.stranger, "image": fx.image("private")},
			"want": set(),
		},
	}
	grounds(c.spec) == c.want
}

# A missing image and an invisible one read the same, so the answer tells nothing.
test_concealed_reads_the_same_for_missing_and_invisible if {
	missing := concealed({"tenant": fx.stranger, "image": null})
	invisible := concealed({"tenant": fx.stranger, "image": fx.image("private")})
	missing == {"no image img-1 visible to tenant t-stranger"}
	invisible == missing
}

test_concealed_on_every_image_operation[op] if {
	some op in visibility.image_operations
	concealed({"op": op, "tenant": fx.stranger, "image": fx.image("private")}) == {"no image img-1 visible to tenant t-stranger"}
	concealed({"op": op, "tenant": fx.owner, "image": fx.image("private")}) == set()
}

test_concealed_without_image_id_param if {
	# An image operation whose path gave no id (a router bug) is still concealed.
	concealed({"op": "images.get", "params": {}, "image": null}) == {"no image (none) visible to tenant t-owner"}
}

test_concealed_for_unlisted_operation_with_image_id if {
	# The image_id parameter alone makes an operation image-scoped.
	concealed({"op": "images.future", "params": {"image_id": "img-9"}, "image": null}) == {"no image img-9 visible to tenant t-owner"}
}

test_nothing_concealed_without_an_image if {
	some op in ["images.list", "images.create", "tasks.list", "tasks.get", "schemas.get", "versions.list"]
	concealed({"op": op, "params": {}, "image": null}) == set()
}

# ----------------------------------------------------------------------------------------
# Lists: which items of a page a tenant sees, under each filter.

# page holds an item of every kind, seen from fx.member's side (member_status is the
# caller's membership status of the item).
page := [
	{"id": "own-private", "owner": fx.member, "visibility": "private", "member_status": null},
	{"id": "own-shared", "owner": fx.member, "visibility": "shared", "member_status": null},
	{"id": "own-community", "owner": fx.member, "visibility": "community", "member_status": null},
	{"id": "own-public", "owner": fx.member, "visibility": "public", "member_status": null},
	{"id": "public", "owner": fx.owner, "visibility": "public", "member_status": null},
	{"id": "community", "owner": fx.owner, "visibility": "community", "member_status": null},
	{"id": "private", "owner": fx.owner, "visibility": "private", "member_status": null},
	{"id": "shared-accepted", "owner": fx.owner, "visibility": "shared", "member_status": "accepted"},
	{"id": "shared-pending", "owner": fx.owner, "visibility": "shared", "member_status": "pending"},
	{"id": "shared-rejected", "owner": fx.owner, "visibility": "shared", "member_status": "rejected"},
	{"id": "shared-no-member", "owner": fx.owner, "visibility": "shared", "member_status": null},
	{"id": "private-with-member", "owner": fx.owner, "visibility": "private", "member_status": "accepted"},
]

own := {"own-private", "own-shared", "own-community", "own-public"}

listed(query, caller_roles) := ids if {
	ids := visibility.visible_ids with input as fx.call({
		"op": "images.list", "params": {}, "tenant": fx.member, "roles": caller_roles,
		"query": query, "items": page,
	})
}

test_list_for_a_tenant[name] if {
	some name, c in {
		"default": {"query": {}, "want": (own | {"public", "shared-accepted"})},
		"visibility=public": {"query": {"visibility": ["public"]}, "want": {"own-public", "public"}},
		"visibility=private": {"query": {"visibility": ["private"]}, "want": {"own-private"}},
		"visibility=shared": {"query": {"visibility": ["shared"]}, "want": {"own-shared", "shared-accepted"}},
		"visibility=community": {"query": {"visibility": ["community"]}, "want": {"own-community", "community"}},
		"visibility=all": {"query": {"visibility": ["all"]}, "want": (own | {"public", "community", "shared-accepted"})},
		"member_status=accepted": {"query": {"member_status": ["accepted"]}, "want": (own | {"public", "shared-accepted"})},
		"member_status=pending": {"query": {"member_status": ["pending"]}, "want": (own | {"public", "shared-pending"})},
		"member_status=rejected": {"query": {"member_status": ["rejected"]}, "want": (own | {"public", "shared-rejected"})},
		"member_status=all": {"query": {"member_status": ["all"]}, "want": (own | {"public", "shared-accepted", "shared-pending", "shared-rejected"})},
		"visibility=shared&member_status=all": {
			"query": {"visibility": ["shared"], "member_status": ["all"]},
			"want": {"own-shared", "shared-accepted", "shared-pending", "shared-rejected"},
		},
		"visibility=shared&member_status=pending": {
			"query": {"visibility": ["shared"], "member_status": ["pending"]},
			"want": {"own-shared", "shared-pending"},
		},
		"visibility=all&member_status=all": {
			"query": {"visibility": ["all"], "member_status": ["all"]},
			"want": (own | {"public", "community", "shared-accepted", "shared-pending", "shared-rejected"}),
		},
		"other parameters change nothing": {"query": {"limit": ["10"], "sort_key": ["name"]}, "want": (own | {"public", "shared-accepted"})},
	}
	listed(c.query, ["reader"]) == c.want
}

everything := {item.id | some item in page}

test_list_for_a_cloud_admin[name] if {
	some name, c in {
		"default hides others' community images": {"query": {}, "want": everything - {"community"}},
		"visibility=community": {"query": {"visibility": ["community"]}, "want": {"own-community", "community"}},
		"visibility=private": {"query": {"visibility": ["private"]}, "want": {"own-private", "private", "private-with-member"}},
		"visibility=shared": {"query": {"visibility": ["shared"]}, "want": {"own-shared", "shared-accepted", "shared-pending", "shared-rejected", "shared-no-member"}},
		"visibility=all": {"query": {"visibility": ["all"]}, "want": everything},
		"member_status does not narrow an admin's list": {"query": {"member_status": ["pending"]}, "want": everything - {"community"}},
	}
	listed(c.query, ["admin"]) == c.want
}

test_list_filters_must_be_one_known_value[name] if {
	some name, query in {
		"unknown visibility": {"visibility": ["secret"]},
		"repeated visibility": {"visibility": ["public", "private"]},
		"empty visibility": {"visibility": []},
		"unknown member_status": {"member_status": ["maybe"]},
		"repeated member_status": {"member_status": ["all", "all"]},
		"case matters": {"visibility": ["Public"]},
	}
	spec := {"op": "images.list", "params": {}, "tenant": fx.member, "query": query, "items": page}
	count(visibility.malformed) == 1 with input as fx.call(spec)
	visibility.visible_ids == set() with input as fx.call(spec)
}

test_list_filter_reason if {
	visibility.malformed == {"query parameter visibility must be given once, as one of: all, community, private, public, shared"} with input as fx.call({"op": "images.list", "params": {}, "query": {"visibility": ["x"]}})
	visibility.malformed == {"query parameter member_status must be given once, as one of: accepted, all, pending, rejected"} with input as fx.call({"op": "images.list", "params": {}, "query": {"member_status": ["x"]}})
}

test_filters_of_other_operations_are_not_list_filters if {
	visibility.malformed == set() with input as fx.call({"op": "images.get", "query": {"visibility": ["x"]}})
}

test_list_without_items_is_empty if {
	visibility.visible_ids == set() with input as fx.call({"op": "images.list", "params": {}, "items": null})
	visibility.visible_ids == set() with input as fx.call({"op": "images.list", "params": {}, "items": []})
}

test_list_items_of_a_tenantless_caller if {
	# Only public images: owning needs a tenant, even when an item's owner is empty too.
	items := [
		{"id": "a", "owner": "", "visibility": "private", "member_status": null},
		{"id": "b", "owner": fx.owner, "visibility": "public", "member_status": null},
	]
	visibility.visible_ids == {"b"} with input as fx.call({"op": "images.list", "params": {}, "tenant": "", "items": items})
}

# The single image of an images.get response, checked as a one-item page, follows the
# by-id rules: community images and pending memberships are reachable.
reachable(caller_roles) := ids if {
	ids := visibility.visible_ids with input as fx.call({"op": "images.get", "tenant": fx.member, "roles": caller_roles, "items": page})
}

test_single_image_by_id if {
	reachable(["reader"]) == own | {"public", "community", "shared-accepted", "shared-pending", "shared-rejected"}
	reachable(["admin"]) == everything
}

test_single_image_ignores_list_filters if {
	ids := visibility.visible_ids with input as fx.call({
		"op": "images.get", "tenant": fx.member, "query": {"visibility": ["private"]},
		"items": [{"id": "community", "owner": fx.owner, "visibility": "community", "member_status": null}],
	})
	ids == {"community"}
}

test_tenant_of_the_principal if {
	visibility.tenant == fx.member with input as fx.call({"tenant": fx.member})
	visibility.tenant == "" with input as {"principal": {"roles": ["admin"]}}
	visibility.tenant == "" with input as {"principal": {"tenant": 123456}}
	visibility.tenant == "" with input as {"principal": null}
}
