package imagegate.images_test

import rego.v1

import data.imagegate.fixtures as fx
import data.imagegate.images

# outcome is what the images package says of one request.
outcome(spec) := o if {
	o := {
		"malformed": images.malformed,
		"forbidden": images.forbidden,
		"grounds": images.grounds,
	} with input as fx.call(spec)
}

allowed(o) if {
	o.malformed == set()
	o.forbidden == set()
}

# update is an images.update of fx.owner's shared image.
update(tenant, caller_roles, patch) := outcome({
	"op": "images.update", "tenant": tenant, "roles": caller_roles,
	"image": fx.image("shared"), "patch": patch,
})

owner_update(patch) := update(fx.owner, ["member"], patch)

admin_update(patch) := update(fx.stranger, ["admin"], patch)

# ----------------------------------------------------------------------------------------
# Who changes an image

test_owner_changes_its_image[op] if {
	some op in images.change_operations
	o := outcome({"op": op, "tenant": fx.owner, "image": fx.image("shared"), "patch": []})
	allowed(o)
	o.grounds == {"tenant t-owner owns image img-1"}
}

test_cloud_admin_changes_any_image[op] if {
	some op in images.change_operations
	o := outcome({"op": op, "tenant": fx.stranger, "roles": ["admin"], "image": fx.image("private"), "patch": []})
	allowed(o)
	o.grounds == {"a cloud admin may change image img-1"}
}

test_others_do_not_change_an_image_they_see[name] if {
	some op in images.change_operations
	some visibility, membership in {
		"public": null,
		"community": null,
		"shared": fx.membership(fx.member, "accepted"),
	}
	name := sprintf("%s on a %s image", [op, visibility])
	o := outcome({
		"op": op, "tenant": fx.member, "roles": ["member", "reader", "identity:user-admin"],
		"image": fx.image(visibility), "membership": membership, "patch": [],
	})
	o.forbidden == {"tenant t-member does not own image img-1"}
}

test_protected_image_is_never_deleted if {
	protected := object.union(fx.image("shared"), {"protected": true})
	outcome({"op": "images.delete", "tenant": fx.owner, "image": protected}).forbidden == {"image img-1 is protected"}
	outcome({"op": "images.delete", "tenant": fx.stranger, "roles": ["admin"], "image": protected}).forbidden == {"image img-1 is protected"}
	allowed(outcome({"op": "images.update", "tenant": fx.owner, "image": protected, "patch": []}))
}

test_copy_image_needs_a_cloud_admin if {
	copy := {"method": {"name": "copy-image"}, "stores": ["fast"]}
	outcome({"op": "images.import", "tenant": fx.owner, "image": fx.image("shared"), "body": copy}).forbidden == {"only a cloud admin copies an image to other stores (copy-image)"}
	allowed(outcome({"op": "images.import", "tenant": fx.stranger, "roles": ["admin"], "image": fx.image("shared"), "body": copy}))
	allowed(outcome({"op": "images.import", "tenant": fx.owner, "image": fx.image("shared"), "body": {"method": {"name": "glance-direct"}}}))
}

# ----------------------------------------------------------------------------------------
# images.update: the JSON Patch document

test_patch_ops[op] if {
	some op in ["add", "remove", "replace"]
	allowed(owner_update([fx.patch(op, "name", "x")]))
}

test_patch_ops_glance_refuses[name] if {
	some name, p in {
		"move": fx.patch("move", "name", "x"),
		"copy": fx.patch("copy", "name", "x"),
		"test": fx.patch("test", "name", "x"),
		"upper case": fx.patch("ADD", "name", "x"),
		"no op": {"path": "/name", "pointer": ["name"], "value": "x"},
	}
	o := owner_update([fx.patch("replace", "min_ram", 512), p])
	o.malformed == {sprintf("patch operation 1: op %v is not one of add, remove, replace", [object.get(p, "op", null)])}
}

test_patch_paths[name] if {
	some name, pointer in {
		"property": ["name"],
		"custom property": ["hw_disk_bus"],
		"locations": ["locations"],
		"one location": ["locations", "0"],
		"appended location": ["locations", "-"],
	}
	o := admin_update([{"op": "replace", "path": "/x", "pointer": pointer, "value": "x"}])
	o.malformed == set()
}

test_patch_paths_glance_refuses[name] if {
	some name, pointer in {
		"root": [],
		"empty token": [""],
		"two levels": ["name", "x"],
		"three levels of locations": ["locations", "0", "url"],
		"empty location index": ["locations", ""],
		"number token": [1],
		"no pointer": null,
	}
	o := admin_update([{"op": "replace", "path": "/x", "pointer": pointer, "value": "x"}])
	o.malformed == {"patch operation 0: path /x is not one image property"}
}

test_patch_must_be_a_list[name] if {
	some name, patch in {"missing": null, "object": {"op": "add"}, "string": "[]"}
	o := owner_update(patch)
	"images.update needs a JSON Patch document (an array of operations)" in o.malformed
}

test_patch_operations_must_be_objects[name] if {
	some name, p in {"number": 1, "null": null, "string": "add", "list": [{"op": "add"}]}
	owner_update([p]).malformed == {
		"patch operation 0: op null is not one of add, remove, replace",
		"patch operation 0: path null is not one image property",
	}
}

test_empty_patch_is_allowed if {
	allowed(owner_update([]))
}

test_read_only_properties_are_refused[name] if {
	some property in ["id", "created_at", "updated_at", "status", "checksum", "size", "virtual_size", "direct_url", "self", "file", "schema", "os_hash_algo", "os_hash_value"]
	some op in ["add", "remove", "replace"]
	name := sprintf("%s /%s", [op, property])
	want := {sprintf("property %s is read-only", [property])}
	owner_update([fx.patch(op, property, "x")]).forbidden == want
	admin_update([fx.patch(op, property, "x")]).forbidden == want
}

test_reserved_properties_are_refused[name] if {
	some name, want in {
		"location": "property location is reserved",
		"deleted": "property deleted is reserved",
		"deleted_at": "property deleted_at is reserved",
		"os_glance_importing_to_stores": "properties starting with os_glance are reserved",
		"os_glance": "properties starting with os_glance are reserved",
		"OS_GLANCE_failed_import": "properties starting with os_glance are reserved",
		"com.rackspace__1_build_core": "custom properties starting with com.rackspace are reserved",
		"com.rackspace": "custom properties starting with com.rackspace are reserved",
		"Com.Rackspace.x": "custom properties starting with com.rackspace are reserved",
	}
	owner_update([fx.patch("add", name, "x")]).forbidden == {want}
	admin_update([fx.patch("add", name, "x")]).forbidden == {want}
}

test_reserved_prefixes_match_longer_names if {
	owner_update([fx.patch("add", "os_glancex", "x")]).forbidden == {"properties starting with os_glance are reserved"}
	owner_update([fx.patch("add", "com.rackspacecloud", "x")]).forbidden == {"custom properties starting with com.rackspace are reserved"}
}

test_ordinary_properties_are_allowed[property] if {
	some property in ["name", "min_disk", "min_ram", "tags", "os_distro", "os_hidden", "hw_firmware_type", "com_rackspace", "locationx", "ids", "protected"]
	allowed(owner_update([fx.patch("replace", property, "x")]))
}

test_owner_changes_need_a_cloud_admin if {
	owner_update([fx.patch("replace", "owner", fx.stranger)]).forbidden == {"only a cloud admin changes the owner of an image"}
	allowed(admin_update([fx.patch("replace", "owner", fx.member)]))
}

test_locations_need_a_cloud_admin[name] if {
	some name, p in {
		"add one": {"op": "add", "path": "/locations/-", "pointer": ["locations", "-"], "value": {"url": "file:///etc/shadow", "metadata": {}}},
		"remove one": {"op": "remove", "path": "/locations/0", "pointer": ["locations", "0"]},
		"replace all": {"op": "replace", "path": "/locations", "pointer": ["locations"], "value": []},
	}
	owner_update([p]).forbidden == {"only a cloud admin changes image locations"}
	allowed(admin_update([p]))
}

test_publicize_needs_a_cloud_admin[op] if {
	some op in ["add", "replace"]
	owner_update([fx.patch(op, "visibility", "public")]).forbidden == {"only a cloud admin makes an image public"}
	o := admin_update([fx.patch(op, "visibility", "public")])
	allowed(o)
	o.grounds == {"a cloud admin may change image img-1", "a cloud admin makes image img-1 public"}
}

test_communitize_needs_the_owner if {
	allowed(owner_update([fx.patch("replace", "visibility", "community")]))
	allowed(admin_update([fx.patch("replace", "visibility", "community")]))
	o := outcome({
		"op": "images.update", "tenant": fx.member, "image": fx.image("shared"),
		"membership": fx.membership(fx.member, "accepted"),
		"patch": [fx.patch("replace", "visibility", "community")],
	})
	o.forbidden == {"tenant t-member does not own image img-1", "only the owner of image img-1 makes it community"}
}

test_other_visibility_changes_are_the_owner_s[visibility] if {
	some visibility in ["private", "shared"]
	allowed(owner_update([fx.patch("replace", "visibility", visibility)]))
}

test_visibility_rules_read_only_the_visibility_property if {
	# "public" as the value of another property, or a removed visibility, publicizes nothing.
	allowed(owner_update([fx.patch("replace", "name", "public")]))
	allowed(owner_update([{"op": "remove", "path": "/visibility", "pointer": ["visibility"]}]))
}

test_every_refusal_of_a_patch_is_reported if {
	o := owner_update([
		fx.patch("replace", "status", "active"),
		fx.patch("replace", "visibility", "public"),
		fx.patch("add", "os_glance_x", "1"),
	])
	o.forbidden == {
		"property status is read-only",
		"only a cloud admin makes an image public",
		"properties starting with os_glance are reserved",
	}
}

# ----------------------------------------------------------------------------------------
# images.create: the body

create(tenant, caller_roles, body) := outcome({"op": "images.create", "params": {}, "tenant": tenant, "roles": caller_roles, "body": body})

test_create_plain_image[name] if {
	some name, body in {
		"no body": null,
		"empty body": {},
		"usual body": {"name": "debian", "disk_format": "qcow2", "container_format": "bare", "visibility": "shared"},
		"own id": {"id": "b2173dd3-7ad6-4362-baa6-a68bce3565cb"},
		"own tenant as owner": {"owner": fx.owner},
		"private": {"visibility": "private"},
		"community": {"visibility": "community"},
	}
	o := create(fx.owner, ["member"], body)
	allowed(o)
	o.grounds == {"the new image belongs to tenant t-owner"}
}

test_create_body_must_be_an_object[name] if {
	some name, body in {"list": [], "string": "image", "number": 1}
	create(fx.owner, ["member"], body).malformed == {"images.create needs a JSON object body"}
}

test_create_for_another_tenant_needs_a_cloud_admin if {
	create(fx.owner, ["member"], {"owner": fx.stranger}).forbidden == {"only a cloud admin creates an image owned by another tenant (t-stranger)"}
	create(fx.owner, ["member"], {"owner": null}).forbidden == {"only a cloud admin creates an image owned by another tenant (null)"}
	o := create(fx.owner, ["admin"], {"owner": fx.stranger})
	allowed(o)
	o.grounds == {"a cloud admin creates an image for tenant t-stranger"}
}

test_create_public_needs_a_cloud_admin if {
	create(fx.owner, ["member"], {"visibility": "public"}).forbidden == {"only a cloud admin creates a public image"}
	allowed(create(fx.owner, ["admin"], {"visibility": "public"}))
}

test_create_with_locations_needs_a_cloud_admin if {
	create(fx.owner, ["member"], {"locations": []}).forbidden == {"only a cloud admin sets image locations"}
	allowed(create(fx.owner, ["admin"], {"locations": []}))
}

test_create_refuses_read_only_and_reserved_properties[name] if {
	some name, want in {
		"status": "property status is read-only",
		"created_at": "property created_at is read-only",
		"size": "property size is read-only",
		"checksum": "property checksum is read-only",
		"os_hash_value": "property os_hash_value is read-only",
		"file": "property file is read-only",
		"self": "property self is read-only",
		"deleted": "property deleted is reserved",
		"location": "property location is reserved",
		"os_glance_import_task": "properties starting with os_glance are reserved",
		"com.rackspace__1_visible_core": "custom properties starting with com.rackspace are reserved",
	}
	create(fx.owner, ["member"], {name: "x"}).forbidden == {want}
	create(fx.owner, ["admin"], {name: "x"}).forbidden == {want}
}

test_other_operations_have_no_image_rules[op] if {
	some op in ["images.get", "images.download", "images.list", "members.create", "tasks.create"]
	o := outcome({"op": op, "tenant": fx.stranger, "image": fx.image("public"), "body": {"status": "x", "owner": "y"}, "patch": [fx.patch("replace", "owner", "y")]})
	o == {"malformed": set(), "forbidden": set(), "grounds": set()}
}
