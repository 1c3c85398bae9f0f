package imagegate.gcore_test

import rego.v1

import data.imagegate.fixtures as fx
import data.imagegate.gcore

decide(spec) := d if {
	d := data.imagegate.decision with input as fx.gcall(spec)
}

status_of(d) := 200 if d.allow == true

status_of(d) := d.status if d.allow == false

own := fx.gimage(fx.g_project, "private")

# ----------------------------------------------------------------------------------------
# Project and region scoping.

test_scoping[name] if {
	some name, c in {
		"the caller's own project": {"op": "images.list", "params": fx.glist_params, "want": 200},
		"another project": {"op": "images.list", "params": {"project_id": fx.g_other, "region_id": fx.g_region}, "want": 403},
		"another project, an image of it": {"op": "images.get", "params": {"project_id": fx.g_other, "region_id": fx.g_region, "image_id": fx.image_id}, "image": fx.gimage(fx.g_other, "private"), "want": 403},
		"a cloud admin in another project": {"op": "projectimages.list", "roles": ["admin"], "params": {"project_id": fx.g_other, "region_id": fx.g_region}, "want": 200},
		"a project id that is no number": {"op": "images.list", "params": {"project_id": "abc", "region_id": fx.g_region}, "want": 400},
		"a region id that is no number": {"op": "images.list", "params": {"project_id": fx.g_project, "region_id": "eu-1"}, "want": 400},
	}
	status_of(decide(object.remove(c, ["want"]))) == c.want
}

test_scoping_reasons if {
	decide({"op": "images.list", "params": {"project_id": fx.g_other, "region_id": fx.g_region}}).reasons == ["tenant 7 may not act in project 8"]
	decide({"op": "images.list", "params": {"project_id": "abc", "region_id": fx.g_region}}).reasons == ["project_id abc is not a number"]
	decide({"op": "images.list", "params": fx.glist_params}).reasons == [
		"role member grants images.list",
		"tenant 7 acts in its own project",
		"the list is filtered to the images tenant 7 sees in region 1",
	]
	decide({"op": "projectimages.list", "roles": ["admin"], "params": {"project_id": fx.g_other, "region_id": fx.g_region}}).reasons == [
		"role admin grants projectimages.list",
		"a cloud admin acts in project 8",
		"the list is filtered to the images tenant 7 sees in region 1",
	]
}

# ----------------------------------------------------------------------------------------
# One image by id: 404 unless the caller sees it, on every path under it.

test_by_id[name] if {
	some name, c in {
		"its own private image": {"image": own, "want": true},
		"another project's public image": {"image": fx.gimage(fx.g_other, "public"), "want": true},
		"another project's private image": {"image": fx.gimage(fx.g_other, "private"), "want": false},
		"another project's shared image, not shared with the caller": {"image": fx.gimage(fx.g_other, "shared"), "want": false},
		"an image of another region": {"image": object.union(own, {"region_id": 2}), "want": false},
		"an image whose ids are strings": {"image": object.union(own, {"region_id": "1", "project_id": "7"}), "want": true},
		"a cloud admin, another's private image": {"roles": ["admin"], "image": fx.gimage(fx.g_other, "private"), "want": true},
		"no image": {"image": null, "want": false},
	}
	got := sees(object.remove(c, ["want"]))
	got == c.want
}

sees(spec) if {
	gcore.visible with input as fx.gcall(spec)
} else := false

image_operations := {
	"images.get": {}, "images.update": {"body": {"name": "x"}}, "images.delete": {},
	"metadata.list": {}, "metadata.create": {"body": {"k": "v"}}, "metadata.replace": {"body": {"k": "v", "billing": "paid"}},
	"metadata_item.get": {"query": {"key": ["os"]}}, "metadata_item.delete": {"query": {"key": ["os"]}},
}

test_hidden_image_hides_every_operation[op] if {
	some op, spec in image_operations
	d := decide(object.union(spec, {"op": op, "roles": ["admin"], "image": object.union(own, {"region_id": 2})}))
	d.status == 404
	d.hide == true
	d.reasons == ["no image img-1 visible to tenant 7 in region 1"]
}

test_owner_runs_every_operation[op] if {
	some op, spec in image_operations
	d := decide(object.union(spec, {"op": op, "image": own}))
	d.allow == true
	"tenant 7 owns image img-1" in d.reasons
}

test_grounds_name_the_sight if {
	"image img-1 is public and available to the caller" in decide({"image": fx.gimage(fx.g_other, "public")}).reasons
	"image img-1 is shared with the caller in region 1" in decide({
		"image": fx.gimage(fx.g_other, "private"),
		"catalog": fx.catalog({}, {"project": {fx.g_project: {fx.g_region: [fx.image_id]}}}),
	}).reasons
	"role admin makes the caller a cloud admin, who sees every image" in decide({"roles": ["admin"], "image": fx.gimage(fx.g_other, "private")}).reasons
}

test_filters if {
	decide({"op": "images.list", "params": fx.glist_params}).filter == "results"
	decide({"op": "projectimages.list", "params": fx.glist_params}).filter == "results"
	decide({"image": own}).filter == "image"
	decide({"op": "metadata.list", "image": own}).filter == ""
}

# ----------------------------------------------------------------------------------------
# Lists: one policy call per page.

page := [
	fx.gitem("own", fx.g_project, "private"),
	fx.gitem("pub", fx.g_other, "public"),
	fx.gitem("priv", fx.g_other, "private"),
	fx.gitem("shared", fx.g_other, "shared"),
	object.union(fx.gitem("elsewhere", fx.g_project, "private"), {"region": "2"}),
]

listed(op, spec) := ids if {
	ids := data.imagegate.visible_ids with input as fx.gcall(object.union({"op": op, "params": fx.glist_params, "items": page}, spec))
}

test_lists if {
	listed("images.list", {}) == {"own", "pub"}
	listed("images.list", {"catalog": fx.catalog({}, {"client": {fx.g_client: {fx.g_region: ["shared"]}}})}) == {"own", "pub", "shared"}
	listed("images.list", {"roles": ["admin"]}) == {"own", "pub", "priv", "shared"}
	listed("projectimages.list", {}) == {"own"}
	listed("projectimages.list", {"roles": ["admin"], "params": {"project_id": fx.g_other, "region_id": fx.g_region}}) == {"pub", "priv", "shared"}
	listed("images.list", {"tenant": ""}) == {"pub"}
	listed("images.list", {"params": {"project_id": "x", "region_id": fx.g_region}}) == set()
}

# ----------------------------------------------------------------------------------------
# Changes: the owner or a cloud admin; read-only fields and metadata items.

test_changes[name] if {
	some name, c in {
		"another's public image: no change": {"op": "images.update", "image": fx.gimage(fx.g_other, "public"), "body": {"name": "x"}, "want": 403},
		"another's public image: no metadata": {"op": "metadata.create", "image": fx.gimage(fx.g_other, "public"), "body": {"k": "v"}, "want": 403},
		"another's public image: no delete": {"op": "images.delete", "image": fx.gimage(fx.g_other, "public"), "want": 403},
		"a cloud admin changes any image": {"op": "images.delete", "roles": ["admin"], "image": fx.gimage(fx.g_other, "public"), "want": 200},
		"the owner renames": {"op": "images.update", "image": own, "body": {"name": "x", "os_type": "linux"}, "want": 200},
		"the owner may not make it public": {"op": "images.update", "image": own, "body": {"visibility": "public"}, "want": 403},
		"a cloud admin makes it public": {"op": "images.update", "roles": ["admin"], "image": own, "body": {"visibility": "public"}, "want": 200},
		"no public create": {"op": "images.create", "params": fx.glist_params, "body": {"name": "x", "visibility": "public"}, "want": 403},
		"a private create": {"op": "images.create", "params": fx.glist_params, "body": {"name": "x", "volume_id": "v"}, "want": 200},
		"read-only field": {"op": "images.update", "image": own, "body": {"project_id": 8}, "want": 403},
		"metadata through update": {"op": "images.update", "image": own, "body": {"metadata": {"billing": "free"}}, "want": 403},
		"a new metadata item": {"op": "metadata.create", "image": own, "body": {"new": "x"}, "want": 200},
		"a changed metadata item": {"op": "metadata.create", "image": own, "body": {"os": "windows"}, "want": 200},
		"a changed read-only item": {"op": "metadata.create", "image": own, "body": {"billing": "free"}, "want": 403},
		"a read-only item set to its value": {"op": "metadata.create", "image": own, "body": {"billing": "paid"}, "want": 200},
		"a replace keeping the read-only item": {"op": "metadata.replace", "image": own, "body": {"billing": "paid"}, "want": 200},
		"a replace dropping the read-only item": {"op": "metadata.replace", "image": own, "body": {"os": "linux"}, "want": 403},
		"a replace changing the read-only item": {"op": "metadata.replace", "image": own, "body": {"billing": "free"}, "want": 403},
		"a cloud admin replaces read-only items": {"op": "metadata.replace", "roles": ["admin"], "image": own, "body": {}, "want": 200},
		"deleting an item": {"op": "metadata_item.delete", "image": own, "query": {"key": ["os"]}, "want": 200},
		"deleting a read-only item": {"op": "metadata_item.delete", "image": own, "query": {"key": ["billing"]}, "want": 403},
		"read-only items in tags_v2": {"op": "metadata_item.delete", "image": object.union(own, {"metadata_detailed": null, "tags_v2": [{"key": "billing", "value": "paid", "read_only": true}]}), "query": {"key": ["billing"]}, "want": 403},
		"a reader changes nothing": {"op": "metadata.create", "roles": ["reader"], "image": own, "body": {"k": "v"}, "want": 403},
	}
	status_of(decide(object.remove(c, ["want"]))) == c.want
}

test_change_reasons if {
	decide({"op": "metadata.replace", "image": own, "body": {}}).reasons == ["metadata item billing is read-only"]
	decide({"op": "images.update", "image": fx.gimage(fx.g_other, "public"), "body": {"name": "x"}}).reasons == ["tenant 7 does not own image img-1"]
	decide({"op": "images.update", "image": own, "body": {"id": "x"}}).reasons == ["field id of an image is read-only"]
	"a cloud admin changes image img-1" in decide({"op": "images.delete", "roles": ["admin"], "image": own}).reasons
}

# ----------------------------------------------------------------------------------------
# Bad input: 400 with the reason.

long_key := concat("", [x | some _ in numbers.range(1, 256); x := "k"])

long_value := concat("", [x | some _ in numbers.range(1, 1025); x := "v"])

test_malformed[name] if {
	some name, c in {
		"metadata_kv that is not JSON": {"op": "images.list", "params": fx.glist_params, "query": {"metadata_kv": ["{os:linux"]}, "reason": "query parameter metadata_kv must be given once, as a JSON object"},
		"metadata_kv that is an array": {"op": "projectimages.list", "params": fx.glist_params, "query": {"metadata_kv": [`["os"]`]}, "reason": "query parameter metadata_kv must be given once, as a JSON object"},
		"metadata_k that is an object": {"op": "images.list", "params": fx.glist_params, "query": {"metadata_k": [`{"os": 1}`]}, "reason": "query parameter metadata_k must be given once, as a JSON array"},
		"a metadata body that is no object": {"op": "metadata.create", "image": own, "body": ["os"], "reason": "metadata.create needs a JSON object body"},
		"an update body that is no object": {"op": "images.update", "image": own, "body": "x", "reason": "images.update needs a JSON object body"},
		"a metadata key over 255 bytes": {"op": "metadata.create", "image": own, "body": {long_key: "v"}, "reason": sprintf("metadata key %q is empty or longer than 255 bytes", [long_key])},
		"an empty metadata key": {"op": "metadata.replace", "image": own, "body": {"": "v"}, "reason": `metadata key "" is empty or longer than 255 bytes`},
		"a metadata value over 1024 bytes": {"op": "metadata.create", "image": own, "body": {"k": long_value}, "reason": `metadata value of "k" must be a string of at most 1024 bytes`},
		"a metadata value that is no string": {"op": "metadata.create", "image": own, "body": {"k": 1}, "reason": `metadata value of "k" must be a string of at most 1024 bytes`},
		"a metadata item without key": {"op": "metadata_item.get", "image": own, "reason": "query parameter key must be given once: the metadata key, at most 255 bytes"},
		"a metadata item with two keys": {"op": "metadata_item.delete", "image": own, "query": {"key": ["a", "b"]}, "reason": "query parameter key must be given once: the metadata key, at most 255 bytes"},
	}
	d := decide(object.remove(c, ["reason"]))
	d.status == 400
	d.reasons == [c.reason]
}

test_metadata_limits_count_bytes if {
	# 128 two-byte characters are 256 bytes: too long, though 128 characters.
	key := concat("", [x | some _ in numbers.range(1, 128); x := "é"])
	decide({"op": "metadata.create", "image": own, "body": {key: "v"}}).status == 400
	decide({"op": "metadata.create", "image": own, "body": {substring(key, 0, 127): "v"}}).allow == true
}

test_valid_list_filters if {
	d := decide({"op": "images.list", "params": fx.glist_params, "query": {"metadata_kv": [`{"os": "linux"}`], "metadata_k": [`["os"]`]}})
	d.allow == true
}

# The deprecated endpoints are decided like any other: the proxy flags them.
test_deprecated_endpoints_still_work if {
	decide({"op": "reseller_image.get", "roles": ["admin"], "params": {"reseller_id": "1001"}}).allow == true
}

# A principal without tenant, client or reseller, and an operation without params.
test_bare_input if {
	bare := {"version": 1, "operation": {"dialect": "gcore", "name": "shared_image.list", "params": {}}, "principal": {"roles": ["admin"]}}
	data.imagegate.reseller.reseller == "" with input as bare
	data.imagegate.reseller.client == "" with input as bare
	data.imagegate.reseller.tenant == "" with input as bare
	data.imagegate.reseller.region == "" with input as bare
	gcore.project == "" with input as bare
	gcore.image_label == "(none)" with input as bare
	gcore.image_label == "img-9" with input as object.union(bare, {"operation": {"params": {"image_id": "img-9"}}})
}
