# Package imagegate.images decides who may change an image and what a change may touch
# (API-NOTES.md §A Images). It speaks only about an image the caller sees and about
# operations its roles allow: imagegate.decision checks both first.
#
#   - only the owner or a cloud admin updates, tags, deletes, uploads, stages, imports,
#     deactivates and reactivates an image; a protected image is never deleted; only a
#     cloud admin imports with copy-image (Glance's copy_image);
#   - an update (JSON Patch) uses add, remove or replace on one property (or on
#     /locations/<n>); it may not touch read-only or reserved properties, nor custom
#     properties under com.rackspace; only a cloud admin changes the owner or the
#     locations, or makes an image public (Glance's publicize_image); only the owner
#     (or a cloud admin) makes it community;
#   - a create may not set read-only or reserved properties (the id excepted), nor make
#     the image public or give it to another tenant unless the caller is a cloud admin.
package imagegate.images

import rego.v1

import data.imagegate.roles
import data.imagegate.visibility

tenant := visibility.tenant

image := visibility.image

image_label := visibility.image_label

# change_operations are the operations that change an existing image.
change_operations := {
	"images.update", "images.delete", "images.upload", "images.stage", "images.import",
	"images.deactivate", "images.reactivate", "tags.add", "tags.delete",
}

# read_only are the properties Glance computes; the owner is handled on its own, since a
# cloud admin may change it.
read_only := {
	"id", "created_at", "updated_at", "status", "checksum", "size", "virtual_size",
	"direct_url", "self", "file", "schema", "os_hash_algo", "os_hash_value",
}

# reserved are properties nobody sets through the API.
reserved := {"location", "deleted", "deleted_at"}

# reserved_prefixes start property names nobody sets: Glance's own, and Rackspace's.
reserved_prefixes := {
	"os_glance": "properties starting with os_glance are reserved",
	"com.rackspace": "custom properties starting with com.rackspace are reserved",
}

# patch_ops are the JSON Patch operations Glance accepts.
patch_ops := {"add", "remove", "replace"}

# steward holds when the caller may change the image: its owner or a cloud admin.
steward if visibility.owns(image)

steward if roles.cloud_admin

# ----------------------------------------------------------------------------------------
# Malformed requests (400)

malformed contains "images.update needs a JSON Patch document (an array of operations)" if {
	input.operation.name == "images.update"
	not is_array(input.request.patch)
}

malformed contains sprintf("patch operation %d: op %v is not one of add, remove, replace", [i, field(p, "op")]) if {
	input.operation.name == "images.update"
	is_array(input.request.patch)
	some i, p in input.request.patch
	not valid_op(p)
}

malformed contains sprintf("patch operation %d: path %v is not one image property", [i, field(p, "path")]) if {
	input.operation.name == "images.update"
	is_array(input.request.patch)
	some i, p in input.request.patch
	not valid_pointer(p)
}

malformed contains "images.create needs a JSON object body" if {
	input.operation.name == "images.create"
	body := input.request.body
	body != null
	not is_object(body)
}

# field is p[key], null when p is no object or has no such key.
field(p, key) := object.get(p, key, null) if {
	is_object(p)
} else := null

valid_op(p) if p.op in patch_ops

# valid_pointer holds for a one-token path, or for /locations and /locations/<n>.
valid_pointer(p) if {
	[name] := p.pointer
	property_name(name)
}

valid_pointer(p) if {
	[property, position] := p.pointer
	property == "locations"
	property_name(position)
}

property_name(name) if {
	is_string(name)
	name != ""
}

# ----------------------------------------------------------------------------------------
# Changes refused (403)

forbidden contains sprintf("tenant %s does not own image %s", [tenant, image_label]) if {
	input.operation.name in change_operations
	not steward
}

forbidden contains sprintf("image %s is protected", [image_label]) if {
	input.operation.name == "images.delete"
	image.protected == true
}

forbidden contains "only a cloud admin copies an image to other stores (copy-image)" if {
	input.operation.name == "images.import"
	input.request.body.method.name == "copy-image"
	not roles.cloud_admin
}

# Properties nobody sets, in an update or a create.
forbidden contains sprintf("property %s is read-only", [name]) if {
	input.operation.name in {"images.update", "images.create"}
	some name in touched_properties
	name in read_only
}

forbidden contains sprintf("property %s is reserved", [name]) if {
	input.operation.name in {"images.update", "images.create"}
	some name in touched_properties
	name in reserved
}

forbidden contains msg if {
	input.operation.name in {"images.update", "images.create"}
	some name in touched_properties
	some prefix, msg in reserved_prefixes
	startswith(lower(name), prefix)
}

forbidden contains "only a cloud admin changes the owner of an image" if {
	input.operation.name == "images.update"
	"owner" in patched_properties
	not roles.cloud_admin
}

forbidden contains "only a cloud admin changes image locations" if {
	input.operation.name == "images.update"
	"locations" in patched_properties
	not roles.cloud_admin
}

forbidden contains "only a cloud admin makes an image public" if {
	input.operation.name == "images.update"
	"public" in patched_visibilities
	not roles.cloud_admin
}

forbidden contains sprintf("only the owner of image %s makes it community", [image_label]) if {
	input.operation.name == "images.update"
	"community" in patched_visibilities
	not steward
}

forbidden contains sprintf("only a cloud admin creates an image owned by another tenant (%v)", [owner]) if {
	input.operation.name == "images.create"
	owner := created_properties.owner
	owner != tenant
	not roles.cloud_admin
}

forbidden contains "only a cloud admin sets image locations" if {
	input.operation.name == "images.create"
	"locations" in object.keys(created_properties)
	not roles.cloud_admin
}

forbidden contains "only a cloud admin creates a public image" if {
	input.operation.name == "images.create"
	created_properties.visibility == "public"
	not roles.cloud_admin
}

# patched_properties are the properties (first path tokens) an update touches.
patched_properties contains name if {
	input.operation.name == "images.update"
	some p in input.request.patch
	name := p.pointer[0]
}

# touched_properties are the properties a request sets: those an update touches, and those
# a create gives but the id (a client may choose its image's id).
touched_properties contains name if {
	some name in patched_properties
	is_string(name)
}

touched_properties contains name if {
	input.operation.name == "images.create"
	some name, _ in created_properties
	name != "id"
}

# patched_visibilities are the visibilities an update sets.
patched_visibilities contains value if {
	input.operation.name == "images.update"
	some p in input.request.patch
	p.op in {"add", "replace"}
	p.pointer == ["visibility"]
	value := p.value
}

# created_properties is the body of an image create, {} when there is none.
default created_properties := {}

created_properties := body if {
	body := input.request.body
	is_object(body)
}

# ----------------------------------------------------------------------------------------
# Grounds of an allowed change

grounds contains sprintf("tenant %s owns image %s", [tenant, image_label]) if {
	input.operation.name in change_operations
	visibility.owns(image)
}

grounds contains sprintf("a cloud admin may change image %s", [image_label]) if {
	input.operation.name in change_operations
	roles.cloud_admin
}

grounds contains sprintf("a cloud admin makes image %s public", [image_label]) if {
	input.operation.name == "images.update"
	"public" in patched_visibilities
	roles.cloud_admin
}

grounds contains sprintf("the new image belongs to tenant %s", [tenant]) if {
	input.operation.name == "images.create"
	object.get(created_properties, "owner", tenant) == tenant
}

grounds contains sprintf("a cloud admin creates an image for tenant %v", [created_properties.owner]) if {
	input.operation.name == "images.create"
	created_properties.owner != tenant
	roles.cloud_admin
}
