package imagegate.members_test

import rego.v1

import data.imagegate.fixtures as fx
import data.imagegate.members

# outcome is what the members package says of one request.
outcome(spec) := o if {
	o := {
		"malformed": members.malformed,
		"not_found": members.not_found,
		"forbidden": members.forbidden,
		"grounds": members.grounds,
	} with input as fx.call(spec)
}

# member_call is a request by fx.member, who holds a membership of fx.owner's image.
member_call(op, member_id, status, extra) := object.union(
	{
		"op": op,
		"tenant": fx.member,
		"image": fx.image("shared"),
		"membership": fx.membership(fx.member, status),
		"params": {"image_id": fx.image_id, "member_id": member_id},
	},
	extra,
)

allowed(o) if {
	o.malformed == set()
	o.not_found == set()
	o.forbidden == set()
	count(o.grounds) > 0
}

only(o, kind, reasons) if {
	o[kind] == reasons
	every other in {"malformed", "not_found", "forbidden"} - {kind} {
		o[other] == set()
	}
}

# ----------------------------------------------------------------------------------------
# members.create

create(tenant, caller_roles, visibility, body) := outcome({
	"op": "members.create", "tenant": tenant, "roles": caller_roles,
	"image": fx.image(visibility), "body": body,
})

test_owner_adds_a_member_to_a_shared_image if {
	o := create(fx.owner, ["member"], "shared", {"member": fx.member})
	allowed(o)
	o.grounds == {"tenant t-owner manages the members of image img-1"}
}

test_cloud_admin_adds_a_member if {
	allowed(create(fx.stranger, ["admin"], "shared", {"member": fx.member}))
}

test_only_shared_images_have_members[visibility] if {
	some visibility in ["private", "public", "community"]
	only(create(fx.owner, ["member"], visibility, {"member": fx.member}), "forbidden", {"Only shared images have members"})
	only(create(fx.stranger, ["admin"], visibility, {"member": fx.member}), "forbidden", {"Only shared images have members"})
}

test_non_owner_adding_a_member_gets_404[name] if {
	some name, spec in {
		"stranger on a public image": {"op": "members.create", "tenant": fx.stranger, "image": fx.image("public"), "body": {"member": fx.stranger}},
		"member on the shared image": member_call("members.create", "", "accepted", {"body": {"member": fx.stranger}}),
	}
	only(outcome(spec), "not_found", {"only the owner of image img-1 adds members"})
}

test_member_body_must_name_a_tenant[name] if {
	some name, body in {
		"no body": null,
		"empty object": {},
		"empty member": {"member": ""},
		"number": {"member": 123456},
		"list": {"member": ["t-member"]},
		"not an object": ["t-member"],
	}
	o := create(fx.owner, ["member"], "shared", body)
	o.malformed == {`members.create needs a body {"member": "<tenant id>"} with a non-empty member`}
}

# ----------------------------------------------------------------------------------------
# members.list and members.get

test_owner_lists_all_members if {
	o := outcome({"op": "members.list", "tenant": fx.owner, "image": fx.image("shared")})
	allowed(o)
	o.grounds == {"tenant t-owner manages the members of image img-1"}
}

test_cloud_admin_lists_members if {
	allowed(outcome({"op": "members.list", "tenant": fx.stranger, "roles": ["admin"], "image": fx.image("shared")}))
}

test_member_lists_only_itself[status] if {
	some status in ["pending", "accepted", "rejected"]
	o := outcome(member_call("members.list", "", status, {"params": {"image_id": fx.image_id}}))
	allowed(o)
	o.grounds == {"tenant t-member sees only its own membership of image img-1"}
}

test_others_list_no_members if {
	only(
		outcome({"op": "members.list", "tenant": fx.stranger, "image": fx.image("public")}),
		"not_found", {"tenant t-stranger sees no members of image img-1"},
	)
}

test_owner_gets_any_member if {
	allowed(outcome({"op": "members.get", "tenant": fx.owner, "image": fx.image("shared"), "params": {"image_id": fx.image_id, "member_id": fx.stranger}}))
}

test_member_gets_its_own_membership if {
	o := outcome(member_call("members.get", fx.member, "pending", {}))
	allowed(o)
	o.grounds == {"tenant t-member reads its own membership of image img-1"}
}

test_member_does_not_get_another_membership if {
	only(outcome(member_call("members.get", fx.stranger, "accepted", {})), "not_found", {"tenant t-member sees no member t-stranger of image img-1"})
}

test_stranger_gets_no_membership if {
	# The path names the caller itself, but it holds no membership.
	only(
		outcome({"op": "members.get", "tenant": fx.stranger, "image": fx.image("public"), "params": {"image_id": fx.image_id, "member_id": fx.stranger}}),
		"not_found", {"tenant t-stranger sees no member t-stranger of image img-1"},
	)
}

# ----------------------------------------------------------------------------------------
# members.update: only the member itself changes its status.

test_member_sets_its_status[status] if {
	some status in ["accepted", "rejected", "pending"]
	o := outcome(member_call("members.update", fx.member, "pending", {"body": {"status": status}}))
	allowed(o)
	o.grounds == {"tenant t-member changes its own membership of image img-1"}
}

test_owner_cannot_set_a_member_status if {
	o := outcome({
		"op": "members.update", "tenant": fx.owner, "image": fx.image("shared"),
		"params": {"image_id": fx.image_id, "member_id": fx.member}, "body": {"status": "accepted"},
	})
	only(o, "forbidden", {"only member t-member itself changes its status"})
}

test_cloud_admin_cannot_set_a_member_status if {
	o := outcome({
		"op": "members.update", "tenant": fx.stranger, "roles": ["admin"], "image": fx.image("shared"),
		"params": {"image_id": fx.image_id, "member_id": fx.member}, "body": {"status": "accepted"},
	})
	only(o, "forbidden", {"only member t-member itself changes its status"})
}

test_member_cannot_set_another_member_status if {
	o := outcome(member_call("members.update", fx.stranger, "accepted", {"body": {"status": "rejected"}}))
	only(o, "not_found", {"tenant t-member sees no member t-stranger of image img-1"})
}

test_stranger_cannot_set_a_member_status if {
	o := outcome({
		"op": "members.update", "tenant": fx.stranger, "image": fx.image("public"),
		"params": {"image_id": fx.image_id, "member_id": fx.stranger}, "body": {"status": "accepted"},
	})
	only(o, "not_found", {"tenant t-stranger sees no member t-stranger of image img-1"})
}

test_status_body_must_be_a_known_status[name] if {
	some name, body in {
		"no body": null,
		"no status": {},
		"unknown status": {"status": "approved"},
		"case matters": {"status": "Accepted"},
		"not a string": {"status": true},
	}
	o := outcome(member_call("members.update", fx.member, "pending", {"body": body}))
	o.malformed == {`members.update needs a body {"status": "accepted" | "rejected" | "pending"}`}
}

# ----------------------------------------------------------------------------------------
# members.delete: only the owner (or a cloud admin), only on shared images.

test_owner_removes_a_member if {
	o := outcome({"op": "members.delete", "tenant": fx.owner, "image": fx.image("shared"), "params": {"image_id": fx.image_id, "member_id": fx.member}})
	allowed(o)
	o.grounds == {"tenant t-owner manages the members of image img-1"}
}

test_cloud_admin_removes_a_member if {
	allowed(outcome({"op": "members.delete", "tenant": fx.stranger, "roles": ["admin"], "image": fx.image("shared"), "params": {"image_id": fx.image_id, "member_id": fx.member}}))
}

test_owner_removes_no_member_of_an_image_no_longer_shared if {
	o := outcome({"op": "members.delete", "tenant": fx.owner, "image": fx.image("private"), "params": {"image_id": fx.image_id, "member_id": fx.member}})
	only(o, "forbidden", {"Only shared images have members"})
}

test_member_cannot_remove_itself if {
	only(outcome(member_call("members.delete", fx.member, "accepted", {})), "forbidden", {"only the owner of image img-1 removes members, not the member itself"})
}

test_member_cannot_remove_another_member if {
	only(outcome(member_call("members.delete", fx.stranger, "accepted", {})), "not_found", {"tenant t-member sees no member t-stranger of image img-1"})
}

test_stranger_cannot_remove_a_member if {
	o := outcome({"op": "members.delete", "tenant": fx.stranger, "image": fx.image("public"), "params": {"image_id": fx.image_id, "member_id": fx.member}})
	only(o, "not_found", {"tenant t-stranger sees no member t-member of image img-1"})
}

test_member_id_must_be_a_string if {
	# A member_id that is not a string names no membership of the caller.
	o := outcome(member_call("members.get", fx.member, "accepted", {"params": {"image_id": fx.image_id, "member_id": 1}}))
	only(o, "not_found", {"tenant t-member sees no member  of image img-1"})
}

test_other_operations_have_no_member_rules if {
	o := outcome({"op": "images.get", "tenant": fx.stranger, "image": fx.image("public")})
	o == {"malformed": set(), "not_found": set(), "forbidden": set(), "grounds": set()}
}
