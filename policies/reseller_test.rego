package imagegate.reseller_test

import rego.v1

import data.imagegate.fixtures as fx
import data.imagegate.reseller

# ----------------------------------------------------------------------------------------
# Limits: given a client of reseller 1001 and a public image of another project in region 1,
# does the client see it, by id and in a list, for each kind of limit entry.

public_image := fx.gimage(fx.g_other, "public")

sees_by_id(spec) if {
	data.imagegate.gcore.visible with input as fx.gcall(object.union({"image": public_image}, spec))
} else := false

sees_in_list(spec) if {
	ids := data.imagegate.visible_ids with input as fx.gcall(object.union(
		{"op": "images.list", "params": fx.glist_params, "items": [fx.gitem(fx.image_id, fx.g_other, "public")]},
		spec,
	))
	fx.image_id in ids
} else := false

limits(entry) := {fx.g_reseller: {fx.g_region: entry}}

test_limits[name] if {
	some name, c in {
		"a caller without a reseller sees every public image": {"spec": {"reseller": "", "catalog": fx.catalog(limits([]), {})}, "want": true},
		"no entry for the reseller: every public image": {"spec": {"catalog": fx.catalog({"2002": {fx.g_region: []}}, {})}, "want": true},
		"no catalog at all: every public image": {"spec": {}, "want": true},
		"image_ids null: every public image": {"spec": {"catalog": fx.catalog(limits(null), {})}, "want": true},
		"image_ids []: no public image": {"spec": {"catalog": fx.catalog(limits([]), {})}, "want": false},
		"a list naming the image": {"spec": {"catalog": fx.catalog(limits(["other", fx.image_id]), {})}, "want": true},
		"a list not naming the image": {"spec": {"catalog": fx.catalog(limits(["other"]), {})}, "want": false},
		"a limit of another region does not apply": {"spec": {"catalog": fx.catalog({fx.g_reseller: {"2": []}}, {})}, "want": true},
		"a limit of the wrong type allows nothing": {"spec": {"catalog": fx.catalog(limits("all"), {})}, "want": false},
		"a cloud admin is not limited": {"spec": {"roles": ["admin"], "catalog": fx.catalog(limits([]), {})}, "want": true},
		"shared with the reseller": {"spec": {"catalog": fx.catalog(limits([]), {"reseller": {fx.g_reseller: {fx.g_region: [fx.image_id]}}})}, "want": true},
		"shared with the client": {"spec": {"catalog": fx.catalog(limits([]), {"client": {fx.g_client: {fx.g_region: [fx.image_id]}}})}, "want": true},
		"shared with the project": {"spec": {"catalog": fx.catalog(limits([]), {"project": {fx.g_project: {fx.g_region: [fx.image_id]}}})}, "want": true},
		"shared in another region": {"spec": {"catalog": fx.catalog(limits([]), {"project": {fx.g_project: {"2": [fx.image_id]}}})}, "want": false},
		"shared with another client": {"spec": {"catalog": fx.catalog(limits([]), {"client": {"71": {fx.g_region: [fx.image_id]}}})}, "want": false},
		"a shared entry of the wrong type shares nothing": {"spec": {"catalog": fx.catalog(limits([]), {"client": {fx.g_client: {fx.g_region: fx.image_id}}})}, "want": false},
	}
	sees_by_id(c.spec) == c.want
	sees_in_list(c.spec) == c.want
}

# A shared image need not be public: sharing makes a private image of another client
# available, limit or not.
test_shared_private_image if {
	shared := fx.catalog({}, {"reseller": {fx.g_reseller: {fx.g_region: [fx.image_id]}}})
	sees_by_id({"image": fx.gimage(fx.g_other, "private"), "catalog": shared})
	not sees_by_id({"image": fx.gimage(fx.g_other, "private"), "catalog": fx.catalog({}, {})})
}

# ----------------------------------------------------------------------------------------
# Where limits come from: what the proxy looked up (input.resource.reseller) wins over
# policy data (data.imagegate.reseller.limits/.shared).

test_limits_from_policy_data if {
	not sees_by_id({}) with data.imagegate.reseller.limits as limits([])
	sees_by_id({}) with data.imagegate.reseller.limits as limits([fx.image_id])
	sees_by_id({}) with data.imagegate.reseller.limits as limits([])
		with data.imagegate.reseller.shared as {"client": {fx.g_client: {fx.g_region: [fx.image_id]}}}
}

test_looked_up_limits_win_over_data if {
	sees_by_id({"catalog": fx.catalog(limits(null), {})}) with data.imagegate.reseller.limits as limits([])
	not sees_by_id({"catalog": fx.catalog(limits([]), {})}) with data.imagegate.reseller.limits as limits(null)
}

test_a_looked_up_catalog_without_tables_limits_nothing if {
	sees_by_id({"catalog": {}})
}

# The same limits apply to the Glance dialect, in the configured region.
test_glance_dialect_limits[name] if {
	some name, c in {
		"the limit hides a public image by id": {"limit": [], "region": fx.g_region, "want": false},
		"the limit lists the image": {"limit": [fx.image_id], "region": fx.g_region, "want": true},
		"a limit of another region": {"limit": [], "region": "2", "want": true},
	}
	spec := {
		"tenant": fx.stranger, "reseller": fx.g_reseller, "region": c.region,
		"image": fx.image("public"),
	}
	got := glance_sees(spec, c.limit)
	got == c.want
}

glance_sees(spec, limit) if {
	data.imagegate.visibility.visible with input as fx.call(spec)
		with data.imagegate.reseller.limits as limits(limit)
} else := false

test_glance_list_limits if {
	items := [
		{"id": "pub-1", "owner": fx.owner, "visibility": "public", "member_status": null},
		{"id": "pub-2", "owner": fx.owner, "visibility": "public", "member_status": null},
		{"id": "own", "owner": fx.stranger, "visibility": "private", "member_status": null},
		{"id": "comm", "owner": fx.owner, "visibility": "community", "member_status": null},
	]
	spec := {"op": "images.list", "params": {}, "tenant": fx.stranger, "reseller": fx.g_reseller, "region": fx.g_region, "items": items, "query": {"visibility": ["all"]}}
	ids := data.imagegate.visible_ids with input as fx.call(spec)
		with data.imagegate.reseller.limits as limits(["pub-2"])
	ids == {"pub-2", "own", "comm"}
	admin := data.imagegate.visible_ids with input as fx.call(object.union(spec, {"roles": ["admin"]}))
		with data.imagegate.reseller.limits as limits(["pub-2"])
	admin == {"pub-1", "pub-2", "own", "comm"}
}

# ----------------------------------------------------------------------------------------
# Changing limits and shared images: a cloud admin for anyone, a reseller admin for its
# own reseller, nobody else.

decide(spec) := d if {
	d := data.imagegate.decision with input as fx.gcall(spec)
}

limit_body(reseller_id) := {"reseller_id": reseller_id, "region_id": 1, "image_ids": ["a", "b"]}

share_body(kind, id) := {"entity_type": kind, "entity_id": id, "region_id": 1, "image_ids": [fx.image_id]}

no_image := {"params": {}}

test_who_changes_limits[name] if {
	some name, c in {
		"a cloud admin sets any reseller's limits": {"roles": ["admin"], "op": "reseller_image.set", "body": limit_body(2002), "want": 200},
		"a reseller admin sets its own limits": {"roles": ["reseller_admin"], "op": "reseller_image.set", "body": limit_body(1001), "want": 200},
		"a reseller admin may not set another reseller's limits": {"roles": ["reseller_admin"], "op": "reseller_image.set", "body": limit_body(2002), "want": 403},
		"a reseller admin without a reseller sets nothing": {"roles": ["reseller_admin"], "reseller": "", "op": "reseller_image.set", "body": limit_body(1001), "want": 403},
		"a client admin sets no limits": {"roles": ["client_admin"], "op": "reseller_image.set", "body": limit_body(1001), "want": 403},
		"a reseller admin reads its own limits": {"roles": ["reseller_admin"], "op": "reseller_image.get", "params": {"reseller_id": "1001"}, "want": 200},
		"a reseller admin may not read another's limits": {"roles": ["reseller_admin"], "op": "reseller_image.get", "params": {"reseller_id": "2002"}, "want": 403},
		"a reseller admin deletes its own limits": {"roles": ["reseller_admin"], "op": "reseller_image.delete", "params": {"reseller_id": "1001"}, "want": 200},
		"a cloud admin deletes any limits": {"roles": ["admin"], "op": "reseller_image.delete", "params": {"reseller_id": "2002"}, "query": {"region_id": ["1"]}, "want": 200},
		"a reseller admin shares with its own reseller": {"roles": ["reseller_admin"], "op": "shared_image.set", "body": share_body("reseller", 1001), "want": 200},
		"a reseller admin may not share with another reseller": {"roles": ["reseller_admin"], "op": "shared_image.set", "body": share_body("reseller", 2002), "want": 403},
		"a reseller admin may not share with a client": {"roles": ["reseller_admin"], "op": "shared_image.set", "body": share_body("client", 70), "want": 403},
		"a cloud admin shares with a project": {"roles": ["admin"], "op": "shared_image.set", "body": share_body("project", 8), "want": 200},
		"a member shares nothing": {"roles": ["member"], "op": "shared_image.set", "body": share_body("project", 7), "want": 403},
		"a reseller admin lists its own shared images": {"roles": ["reseller_admin"], "op": "shared_image.list", "query": {"entity_type": ["reseller"], "entity_id": ["1001"]}, "want": 200},
		"a reseller admin may not list a project's": {"roles": ["reseller_admin"], "op": "shared_image.list", "query": {"entity_type": ["project"], "entity_id": ["8"]}, "want": 403},
		"a cloud admin deletes a client's entry": {"roles": ["admin"], "op": "shared_image.delete", "query": {"entity_type": ["client"], "entity_id": ["70"], "region_id": ["1"]}, "want": 200},
	}
	spec := object.union(no_image, object.remove(c, ["want"]))
	d := decide(spec)
	status_of(d) == c.want
}

status_of(d) := 200 if d.allow == true

status_of(d) := d.status if d.allow == false

test_refusals_say_why if {
	decide({"params": {}, "roles": ["reseller_admin"], "op": "reseller_image.set", "body": limit_body(2002)}).reasons == ["the admin of reseller 1001 may not change the limits of reseller 2002"]
	decide({"params": {}, "roles": ["reseller_admin", "member"], "op": "shared_image.set", "body": share_body("client", 70)}).reasons == ["the admin of reseller 1001 shares images only with its own reseller, not with client 70"]
	refused := reseller.forbidden with input as fx.gcall({"params": {}, "roles": ["member"], "op": "reseller_image.set", "body": limit_body(1001)})
	refused == {"only a cloud admin changes the limits of reseller 1001"}
	shared := reseller.forbidden with input as fx.gcall({"params": {}, "roles": ["member"], "op": "shared_image.set", "body": share_body("project", 8)})
	shared == {"only a cloud admin shares images with project 8"}
	nameless := reseller.forbidden with input as fx.gcall({"params": {}, "roles": ["member"], "op": "shared_image.set", "body": {}})
	nameless == {"the request names no reseller or entity"}
}

test_grounds if {
	decide({"params": {}, "roles": ["admin"], "op": "reseller_image.set", "body": limit_body(2002)}).reasons == [
		"role admin grants reseller_image.set",
		"a cloud admin manages the images of reseller 2002",
	]
	decide({"params": {}, "roles": ["reseller_admin"], "op": "reseller_image.set", "body": limit_body(1001)}).reasons == [
		"role reseller_admin grants reseller_image.set",
		"the admin of reseller 1001 manages its own images",
	]
}

# ----------------------------------------------------------------------------------------
# Bad input: 400 with the reason, whoever asks.

test_malformed[name] if {
	some name, c in {
		"a body that is no object": {"op": "reseller_image.set", "body": [1], "reason": "reseller_image.set needs a JSON object body"},
		"image_ids of the wrong type": {"op": "reseller_image.set", "body": {"reseller_id": 1001, "region_id": 1, "image_ids": "a"}, "reason": "image_ids must be null or a list of image ids"},
		"image_ids holding a number": {"op": "shared_image.set", "body": object.union(share_body("reseller", 1001), {"image_ids": [1]}), "reason": "image_ids must be null or a list of image ids"},
		"image_ids missing": {"op": "reseller_image.set", "body": {"reseller_id": 1001, "region_id": 1}, "reason": "image_ids must be null or a list of image ids"},
		"a missing region_id": {"op": "reseller_image.set", "body": {"reseller_id": 1001, "image_ids": null}, "reason": "region_id is required"},
		"a region_id that is no integer": {"op": "shared_image.set", "body": object.union(share_body("reseller", 1001), {"region_id": 1.5}), "reason": "region_id must be an integer id"},
		"a negative reseller_id": {"op": "reseller_image.set", "body": limit_body(-1), "reason": "reseller_id must be an integer id"},
		"a string reseller_id": {"op": "reseller_image.set", "body": limit_body("1001"), "reason": "reseller_id must be an integer id"},
		"an unknown field": {"op": "reseller_image.set", "body": object.union(limit_body(1001), {"client_id": 1}), "reason": "unknown field client_id in the body of reseller_image.set"},
		"an unknown entity_type": {"op": "shared_image.set", "body": share_body("tenant", 1), "reason": "entity_type must be one of: client, project, reseller"},
		"a reseller_id in the path that is no number": {"op": "reseller_image.get", "params": {"reseller_id": "r-9"}, "reason": "reseller_id r-9 is not a number"},
		"an unknown entity_type in the query": {"op": "shared_image.list", "query": {"entity_type": ["tenant"], "entity_id": ["1"]}, "reason": "query parameter entity_type must be given once, as one of: client, project, reseller"},
		"entity_type twice": {"op": "shared_image.delete", "query": {"entity_type": ["client", "project"], "entity_id": ["1"]}, "reason": "query parameter entity_type must be given once, as one of: client, project, reseller"},
		"no entity_id": {"op": "shared_image.list", "query": {"entity_type": ["client"]}, "reason": "query parameter entity_id must be given once, as a number"},
		"a region_id in the query that is no number": {"op": "reseller_image.delete", "params": {"reseller_id": "1001"}, "query": {"region_id": ["eu"]}, "reason": "query parameter region_id must be given at most once, as a number"},
	}
	spec := object.union({"params": {}, "roles": ["admin"]}, object.remove(c, ["reason"]))
	d := decide(spec)
	d.status == 400
	c.reason in d.reasons
}

test_valid_bodies_are_not_malformed if {
	every body in [limit_body(1001), object.union(limit_body(1001), {"image_ids": null}), object.union(limit_body(1001), {"image_ids": []})] {
		reseller.malformed == set() with input as fx.gcall({"params": {}, "op": "reseller_image.set", "body": body})
	}
}
