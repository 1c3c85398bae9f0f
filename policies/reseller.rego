# Package imagegate.reseller decides which public images the clients of a reseller may use,
# which images are shared with a caller, and who may change either (DESIGN.md §4,
# API-NOTES §B, docs/gcore.md).
#
# Limits, per reseller and region, for a caller whose principal has a reseller R:
#   - no entry for R in the region, or image_ids null  -> every public image;
#   - image_ids []                                       -> no public image;
#   - image_ids [..]                                     -> only those public images;
# plus the images shared with one of the caller's entities (its reseller, its client,
# its project) in the region. A caller without a reseller has no limit. A limit entry of
# any other type than null or an array allows no public image (fail closed).
#
# Where the limits come from (config reseller.source):
#   - upstream: the proxy looks up the caller's entries on the upstream's reseller_image
#     and shared_image endpoints and passes them as input.resource.reseller;
#   - data: data.imagegate.reseller.limits and .shared (beside this package's rules), from
#     reseller.file or the policy directory or bundle.
# Both have one shape:
#   "limits": {reseller id: {region id: null | [image id, ...]}},
#   "shared": {"reseller" | "client" | "project": {entity id: {region id: [image id, ...]}}}
#
# The region is the path's region_id (gcore dialect) or the configured region of a Glance
# upstream (input.config.region). Who changes limits and shared images:
#   - a cloud admin, for any reseller or entity;
#   - a reseller admin, only for its own reseller (reseller_image with its reseller_id,
#     shared_image with entity_type reseller and its reseller id);
#   - nobody else.
package imagegate.reseller

import rego.v1

import data.imagegate.roles

# reseller, client and tenant are the caller's entities, "" when it has none.
default reseller := ""

reseller := r if {
	r := input.principal.reseller
	is_string(r)
}

default client := ""

client := c if {
	c := input.principal.client
	is_string(c)
}

default tenant := ""

tenant := t if {
	t := input.principal.tenant
	is_string(t)
}

# region is the region whose limits apply, "" when none is known.
default region := ""

region := r if {
	r := input.operation.params.region_id
	is_string(r)
} else := r if {
	r := input.config.region
	is_string(r)
}

# limit_table and shared_table are the limits and shared images the decision reads:
# those the proxy looked up for this request (input.resource.reseller), else policy data
# (data.imagegate.reseller.limits and .shared, beside this package's rules), else none.
limit_table := t if {
	is_object(input.resource.reseller)
	t := object.get(input.resource.reseller, "limits", {})
} else := t if {
	t := data.imagegate.reseller.limits
} else := {}

shared_table := t if {
	is_object(input.resource.reseller)
	t := object.get(input.resource.reseller, "shared", {})
} else := t if {
	t := data.imagegate.reseller.shared
} else := {}

# limited holds when the caller's reseller restricts the public images of the region.
limited if {
	reseller != ""
	entry := limit_table[reseller][region]
	entry != null
}

# limit_ids are the public images the limit allows (a set).
limit_ids := {id |
	some id in limit_table[reseller][region]
	is_string(id)
} if {
	is_array(limit_table[reseller][region])
} else := set()

# entities are the caller's entities that images may be shared with.
entities := {kind: id |
	some kind, id in {"reseller": reseller, "client": client, "project": tenant}
	id != ""
}

# shared_ids are the images shared with one of the caller's entities in the region.
shared_ids contains id if {
	some kind, entity in entities
	ids := shared_table[kind][entity][region]
	is_array(ids)
	some id in ids
	is_string(id)
}

# public_available(id) holds when the caller may use public image id.
public_available(_) if not limited

public_available(id) if id in limit_ids

public_available(id) if id in shared_ids

# ----------------------------------------------------------------------------------------
# Changing limits and shared images

# operations are those of reseller_image and shared_image.
operations := {
	"reseller_image.get", "reseller_image.set", "reseller_image.delete",
	"shared_image.list", "shared_image.set", "shared_image.delete",
}

# entity_types are the kinds of entity an image is shared with.
entity_types := {"reseller", "client", "project"}

# target is the reseller (reseller_image) or the entity (shared_image) a request is about,
# as {"type", "id"} with the id as a decimal string; undefined when the request does not
# name one well.
target := {"type": "reseller", "id": id} if {
	input.operation.name in {"reseller_image.get", "reseller_image.delete"}
	id := input.operation.params.reseller_id
	decimal(id)
} else := {"type": "reseller", "id": id} if {
	input.operation.name == "reseller_image.set"
	id := id_string(input.request.body.reseller_id)
} else := {"type": kind, "id": id} if {
	input.operation.name == "shared_image.set"
	kind := input.request.body.entity_type
	kind in entity_types
	id := id_string(input.request.body.entity_id)
} else := {"type": kind, "id": id} if {
	input.operation.name in {"shared_image.list", "shared_image.delete"}
	[kind] := input.request.query.entity_type
	kind in entity_types
	[id] := input.request.query.entity_id
	decimal(id)
}

# decimal holds for a string of decimal digits.
decimal(s) if regex.match(`^[0-9]{1,20}$`, s)

# id_string is a non-negative integer id written as decimal digits; undefined otherwise.
id_string(n) := format_int(n, 10) if {
	is_number(n)
	n >= 0
	n == floor(n)
}

# Malformed requests (400).

limit_fields := {"reseller_id", "region_id", "image_ids"}

shared_fields := {"entity_id", "entity_type", "region_id", "image_ids"}

malformed contains sprintf("%s needs a JSON object body", [input.operation.name]) if {
	input.operation.name in {"reseller_image.set", "shared_image.set"}
	not is_object(input.request.body)
}

malformed contains sprintf("unknown field %s in the body of %s", [name, input.operation.name]) if {
	fields := {"reseller_image.set": limit_fields, "shared_image.set": shared_fields}[input.operation.name]
	is_object(input.request.body)
	some name, _ in input.request.body
	not name in fields
}

malformed contains sprintf("%s is required", [name]) if {
	some name in required_ids[input.operation.name]
	is_object(input.request.body)
	not name in object.keys(input.request.body)
}

malformed contains sprintf("%s must be an integer id", [name]) if {
	some name in required_ids[input.operation.name]
	value := input.request.body[name]
	not id_string(value)
}

required_ids := {"reseller_image.set": {"reseller_id", "region_id"}, "shared_image.set": {"entity_id", "region_id"}}

malformed contains "image_ids must be null or a list of image ids" if {
	input.operation.name in {"reseller_image.set", "shared_image.set"}
	is_object(input.request.body)
	not image_ids_valid(input.request.body)
}

malformed contains sprintf("entity_type must be one of: %s", [concat(", ", sort(entity_types))]) if {
	input.operation.name == "shared_image.set"
	is_object(input.request.body)
	not input.request.body.entity_type in entity_types
}

malformed contains sprintf("reseller_id %v is not a number", [input.operation.params.reseller_id]) if {
	input.operation.name in {"reseller_image.get", "reseller_image.delete"}
	not decimal(input.operation.params.reseller_id)
}

malformed contains sprintf("query parameter entity_type must be given once, as one of: %s", [concat(", ", sort(entity_types))]) if {
	input.operation.name in {"shared_image.list", "shared_image.delete"}
	not single_entity_type
}

malformed contains "query parameter entity_id must be given once, as a number" if {
	input.operation.name in {"shared_image.list", "shared_image.delete"}
	not single_decimal("entity_id")
}

malformed contains "query parameter region_id must be given at most once, as a number" if {
	input.operation.name in {"shared_image.list", "shared_image.delete", "reseller_image.delete"}
	input.request.query.region_id
	not single_decimal("region_id")
}

image_ids_valid(body) if body.image_ids == null

image_ids_valid(body) if {
	is_array(body.image_ids)
	every id in body.image_ids {
		is_string(id)
		id != ""
	}
}

single_entity_type if {
	[kind] := input.request.query.entity_type
	kind in entity_types
}

single_decimal(param) if {
	[value] := input.request.query[param]
	decimal(value)
}

# Changes refused (403).

forbidden contains "the request names no reseller or entity" if {
	input.operation.name in operations
	not roles.cloud_admin
	not target
}

forbidden contains msg if {
	not roles.cloud_admin
	t := target
	not own_target(t)
	msg := refusal_of(t)
}

# own_target holds for the reseller admin's own reseller.
own_target(t) if {
	roles.reseller_admin
	reseller != ""
	t == {"type": "reseller", "id": reseller}
}

refusal_of(t) := sprintf("only a cloud admin changes the limits of reseller %s", [t.id]) if {
	t.type == "reseller"
	startswith(input.operation.name, "reseller_image.")
	not roles.reseller_admin
} else := sprintf("the admin of reseller %s may not change the limits of reseller %s", [reseller, t.id]) if {
	startswith(input.operation.name, "reseller_image.")
} else := sprintf("only a cloud admin shares images with %s %s", [t.type, t.id]) if {
	not roles.reseller_admin
} else := sprintf("the admin of reseller %s shares images only with its own reseller, not with %s %s", [reseller, t.type, t.id])

# Grounds of an allowed change.

grounds contains sprintf("a cloud admin manages the images of %s %s", [t.type, t.id]) if {
	roles.cloud_admin
	t := target
}

grounds contains sprintf("the admin of reseller %s manages its own images", [reseller]) if {
	not roles.cloud_admin
	own_target(target)
}
