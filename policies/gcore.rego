# Package imagegate.gcore decides the image operations of the Gcore-style v1 dialect
# (API-NOTES §B, docs/gcore.md): project scoping, which images a caller sees, and who
# changes an image and its metadata. Reseller limits and shared images come from the
# package imagegate.reseller.
#
#   - project and region ids in the path are numbers (400); the {project_id} must be the
#     caller's project unless the caller is a cloud admin (403);
#   - in the path's region a caller sees the images its project owns, the public images
#     its reseller's limit allows, and the images shared with its reseller, client or
#     project; a cloud admin sees every image of the region. Any other image answers 404
#     on every path under it; projectimages.list holds only the project's own images;
#   - only the owner or a cloud admin changes an image or its metadata; only a cloud admin
#     makes an image public or changes read-only fields;
#   - a metadata item marked read_only is changed, replaced or deleted only by a cloud
#     admin; metadata keys are 1 to 255 bytes, values strings of at most 1024 bytes;
#   - list filters metadata_kv and metadata_k are JSON (an object, an array of keys).
package imagegate.gcore

import rego.v1

import data.imagegate.reseller
import data.imagegate.roles

tenant := reseller.tenant

region := reseller.region

# project is the project the path names, "" when it names none.
default project := ""

project := p if {
	p := input.operation.params.project_id
	is_string(p)
}

# scoped holds when the operation acts in a project (all but reseller_image, shared_image).
scoped if input.operation.params.project_id

# id_of is an id of a record (a number or a string) as a string; undefined otherwise.
id_of(x) := x if {
	is_string(x)
} else := format_int(x, 10) if {
	is_number(x)
}

# image is the record of the image the path names; {} when the proxy found none.
default image := {}

image := record if {
	record := input.resource.image
	is_string(record.id)
	record.id != ""
}

image_exists if image.id

image_label := image.id if {
	image_exists
} else := id if {
	id := input.operation.params.image_id
	is_string(id)
} else := "(none)"

# in_region holds when the image lives in the path's region.
in_region if {
	region != ""
	id_of(image.region_id) == region
}

# sight says why the caller sees the image, naming the first rule that lets it; undefined
# when it does not see it.
sight := sprintf("tenant %s owns image %s", [tenant, image.id]) if {
	in_region
	tenant != ""
	id_of(image.project_id) == tenant
} else := sprintf("image %s is public and available to the caller", [image.id]) if {
	in_region
	image.visibility == "public"
	reseller.public_available(image.id)
} else := sprintf("image %s is shared with the caller in region %s", [image.id, region]) if {
	in_region
	image.id in reseller.shared_ids
} else := sprintf("role %s makes the caller a cloud admin, who sees every image", [concat(", ", sort(roles.cloud_admin_roles))]) if {
	in_region
	roles.cloud_admin
}

visible if is_string(sight)

# concealed explains a request under an image that does not exist or the caller does not
# see: both read the same.
concealed contains sprintf("no image %s visible to tenant %s in region %s", [image_label, tenant, region]) if {
	input.operation.params.image_id
	not visible
}

# out_of_scope explains a request in another project than the caller's (403).
out_of_scope contains sprintf("tenant %s may not act in project %s", [tenant, project]) if {
	scoped
	project != tenant
	not roles.cloud_admin
}

# ----------------------------------------------------------------------------------------
# Malformed requests (400)

list_operations := {"images.list", "projectimages.list"}

metadata_writes := {"metadata.create", "metadata.replace"}

body := input.request.body

malformed contains sprintf("%s %v is not a number", [name, value]) if {
	some name in ["project_id", "region_id"]
	value := input.operation.params[name]
	not reseller.decimal(value)
}

malformed contains "query parameter metadata_kv must be given once, as a JSON object" if {
	input.operation.name in list_operations
	input.request.query.metadata_kv
	not json_query("metadata_kv", "object")
}

malformed contains "query parameter metadata_k must be given once, as a JSON array" if {
	input.operation.name in list_operations
	input.request.query.metadata_k
	not json_query("metadata_k", "array")
}

json_query(name, kind) if {
	[raw] := input.request.query[name]
	json.is_valid(raw)
	type_name(json.unmarshal(raw)) == kind
}

malformed contains sprintf("%s needs a JSON object body", [input.operation.name]) if {
	input.operation.name in {"images.create", "images.update", "metadata.create", "metadata.replace"}
	not is_object(body)
}

malformed contains sprintf("metadata key %q is empty or longer than 255 bytes", [key]) if {
	input.operation.name in metadata_writes
	is_object(body)
	some key, _ in body
	not valid_key(key)
}

malformed contains sprintf("metadata value of %q must be a string of at most 1024 bytes", [key]) if {
	input.operation.name in metadata_writes
	is_object(body)
	some key, value in body
	not valid_value(value)
}

malformed contains "query parameter key must be given once: the metadata key, at most 255 bytes" if {
	input.operation.name in {"metadata_item.get", "metadata_item.delete"}
	not valid_key_query
}

valid_key_query if {
	[key] := input.request.query.key
	valid_key(key)
}

valid_key(key) if {
	n := byte_length(key)
	n > 0
	n <= 255
}

valid_value(value) if {
	is_string(value)
	byte_length(value) <= 1024
}

byte_length(s) := count(hex.encode(s)) / 2

# ----------------------------------------------------------------------------------------
# Changes refused (403)

# change_operations change an existing image.
change_operations := {"images.update", "images.delete", "metadata.create", "metadata.replace", "metadata_item.delete"}

# read_only_fields are image fields the API computes; metadata changes go through the
# metadata endpoints, where read-only items are checked.
read_only_fields := {
	"id", "project_id", "region", "region_id", "status", "size", "created_at", "updated_at",
	"creator_task_id", "task_id", "metadata", "metadata_detailed", "tags_v2",
}

# steward holds when the caller may change the image: its project owns it, or a cloud admin.
steward if {
	tenant != ""
	id_of(image.project_id) == tenant
}

steward if roles.cloud_admin

forbidden contains sprintf("tenant %s does not own image %s", [tenant, image_label]) if {
	input.operation.name in change_operations
	not steward
}

forbidden contains "only a cloud admin makes an image public" if {
	input.operation.name in {"images.create", "images.update"}
	body.visibility == "public"
	not roles.cloud_admin
}

forbidden contains sprintf("field %s of an image is read-only", [name]) if {
	input.operation.name == "images.update"
	is_object(body)
	some name, _ in body
	name in read_only_fields
	not roles.cloud_admin
}

forbidden contains sprintf("metadata item %s is read-only", [key]) if {
	some key in changed_read_only
	not roles.cloud_admin
}

# read_only_items are the image's metadata items marked read_only, key -> value.
read_only_items := {item.key: item.value |
	some field in ["metadata_detailed", "tags_v2"]
	some item in image[field]
	item.read_only == true
	is_string(item.key)
}

# changed_read_only are the read-only items a request changes, replaces away or deletes.
changed_read_only contains key if {
	input.operation.name == "metadata.create"
	is_object(body)
	some key, value in body
	old := read_only_items[key]
	value != old
}

changed_read_only contains key if {
	input.operation.name == "metadata.replace"
	is_object(body)
	some key, old in read_only_items
	object.get(body, key, null) != old
}

changed_read_only contains key if {
	input.operation.name == "metadata_item.delete"
	[key] := input.request.query.key
	read_only_items[key]
}

# ----------------------------------------------------------------------------------------
# Grounds of an allowed request

grounds contains sight if input.operation.params.image_id

grounds contains sprintf("tenant %s acts in its own project", [tenant]) if {
	scoped
	project == tenant
}

grounds contains sprintf("a cloud admin acts in project %s", [project]) if {
	scoped
	project != tenant
	roles.cloud_admin
}

grounds contains sprintf("the list is filtered to the images tenant %s sees in region %s", [tenant, region]) if {
	input.operation.name in list_operations
}

grounds contains sprintf("a cloud admin changes image %s", [image_label]) if {
	input.operation.name in change_operations
	roles.cloud_admin
}

# ----------------------------------------------------------------------------------------
# Lists: visible_ids over input.items, each {"id", "owner", "visibility", "region"}, with
# the owner and region ids as strings. Each rule is one scan of the page with lookups in
# sets built once per page, so that a 1,000-image page costs one pass per rule.

# projectimages holds when the list is of the project's own images only.
projectimages if input.operation.name == "projectimages.list"

# list_owner is the project whose images a list holds in any case: the path's project for
# projectimages.list, the caller's for the others.
list_owner := project if {
	projectimages
} else := tenant

visible_ids contains item.id if {
	count(malformed) == 0
	owner := list_owner
	owner != ""
	some item in input.items
	item.owner == owner
	item.region == region
}

visible_ids contains item.id if {
	count(malformed) == 0
	not projectimages
	roles.cloud_admin
	some item in input.items
	item.region == region
}

visible_ids contains item.id if {
	count(malformed) == 0
	not projectimages
	not reseller.limited
	some item in input.items
	item.visibility == "public"
	item.region == region
}

visible_ids contains item.id if {
	count(malformed) == 0
	not projectimages
	reseller.limited
	allowed := reseller.limit_ids
	some item in input.items
	item.visibility == "public"
	allowed[item.id]
	item.region == region
}

visible_ids contains item.id if {
	count(malformed) == 0
	not projectimages
	shared := reseller.shared_ids
	count(shared) > 0
	some item in input.items
	shared[item.id]
	item.region == region
}
