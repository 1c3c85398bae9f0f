package proxy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/imagegate/imagegate/policy"
)

// readListedImage reads id, owner and visibility of an image record by their exact names,
// with encoding/json: the reference the fast readers are held to.
func readListedImage(raw []byte) (listedImage, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return listedImage{}, err
	}
	var li listedImage
	for name, dst := range map[string]*string{"id": &li.ID, "owner": &li.Owner, "visibility": &li.Visibility} {
		if _, err := fieldString(obj, name, dst); err != nil {
			return listedImage{}, err
		}
	}
	return li, nil
}

// readImagePageReference is how the list filter read a page before readImagePage: the
// page into a map, the items into raw messages, each item with readListedImage.
// readImagePage must read every page as it did.
func readImagePageReference(body []byte) (map[string]json.RawMessage, []json.RawMessage, []policy.Item, error) {
	var page map[string]json.RawMessage
	if err := json.Unmarshal(body, &page); err != nil {
		return nil, nil, nil, fmt.Errorf("list answer is not a JSON object: %w", err)
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(page["images"], &raws); err != nil || page["images"] == nil {
		return nil, nil, nil, errors.New(`list answer has no "images" array`)
	}
	items := make([]policy.Item, len(raws))
	seen := make(map[string]bool, len(raws))
	for i, raw := range raws {
		li, err := readListedImage(raw)
		if err != nil || li.ID == "" || li.Visibility == "" {
			return nil, nil, nil, fmt.Errorf("list item %d is not an image record", i)
		}
		if seen[li.ID] {
			return nil, nil, nil, fmt.Errorf("list item %d repeats the id of an earlier item", i)
		}
		seen[li.ID] = true
		items[i] = policy.Item{ID: li.ID, Owner: li.Owner, Visibility: li.Visibility}
	}
	return page, raws, items, nil
}

var listPages = []string{
	`{"images": [], "schema": "/v2/schemas/images", "first": "/v2/images"}`,
	`{"images": [{"id": "a", "owner": "t", "visibility": "public"}, {"id": "b", "owner": null, "visibility": "private", "tags": ["x"], "nested": {"id": "c", "visibility": "shared"}}], "next": "/v2/images?marker=b"}`,
	"{\n  \"first\" : \"/v2/images\" ,\n  \"images\" : [\n    {\"id\":\"a\",\"visibility\":\"public\"} ,\n\t{ \"id\" : \"b\" , \"visibility\" : \"community\" }\n  ]\n}\n",
	`{"images": [{"id": "\u0061\"b", "owner": "t\u00e9", "visibility": "shared", "x": [1, {"y": [null, true]}]}]}`,
	`{"images": [{"\u0069d": "a", "visibility": "public", "id": "b"}]}`,
	`{"images": [{"id": "a", "visibility": "public", "Visibility": "private", "VISIBILITY": "x"}]}`,
	`{"images": [{"id": "a", "visibility": "public", "visibility": null}]}`,
	`{"images": [{"id": 5, "id": "a", "visibility": "public"}]}`,
	`{"images": [{"id": "a", "visibility": "public"}, {"id": "a", "visibility": "private"}]}`,
	`{"images": [{"id": "a", "visibility": "public"}], "images": [{"id": "b", "visibility": "private"}]}`,
	`{"images": null}`,
	`{"images": [{"ID": "a", "Visibility": "public"}]}`,
	`{"Images": [{"id": "a", "visibility": "public"}]}`,
	`{"Images": [{"id": "a", "visibility": "public"}], "images": []}`,
	`{"first": "/v2/images"}`,
	`{"images": {}}`,
	`{"images": "x"}`,
	`{"images": [1]}`,
	`{"images": [null]}`,
	`{"images": [{"id": 5, "visibility": "public"}]}`,
	`{"images": [{"id": "a"}]}`,
	`{"images": [{"id": "a", "visibility": "public"},]}`,
	`{"images": [], }`,
	`{"images": []} x`,
	`{"images": []} {}`,
	`[{"images": []}]`,
	`null`,
	``,
	`{"images": [{"id": "a", "visibility": "public"}]`,
	"{\"images\": [{\"id\": \"\xff\", \"visibility\": \"public\"}]}",
	"{\"images\": [{\"id\": \"\x7f\", \"visibility\": \"public\"}]}",
	"{\"images\": [{\"id\": \"a\\/b\", \"visibility\": \"p\\u0075blic\"}]}",
	`{"images": [], "next": null, "a": {"b": [1, 2, {"c": "d"}]}, "n": -1.5e3}`,
}

func checkSameReading(t *testing.T, body []byte) {
	t.Helper()
	page, raws, items, err := readImagePage(body)
	wantPage, wantRaws, wantItems, wantErr := readImagePageReference(body)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("%q: error %v, reference %v", body, err, wantErr)
	}
	if err != nil {
		return
	}
	if len(page) != len(wantPage) {
		t.Fatalf("%q: page keys %d, reference %d", body, len(page), len(wantPage))
	}
	for k, v := range wantPage {
		if !bytes.Equal(page[k], v) {
			t.Fatalf("%q: page[%q] = %s, reference %s", body, k, page[k], v)
		}
	}
	if len(raws) != len(wantRaws) {
		t.Fatalf("%q: %d items, reference %d", body, len(raws), len(wantRaws))
	}
	for i := range raws {
		if !bytes.Equal(raws[i], wantRaws[i]) {
			t.Fatalf("%q: item %d = %s, reference %s", body, i, raws[i], wantRaws[i])
		}
	}
	if !reflect.DeepEqual(items, wantItems) {
		t.Fatalf("%q: items %+v, reference %+v", body, items, wantItems)
	}
}

func TestReadImagePageReadsAsBefore(t *testing.T) {
	for _, body := range listPages {
		checkSameReading(t, []byte(body))
	}
}

func FuzzReadImagePage(f *testing.F) {
	for _, body := range listPages {
		f.Add([]byte(body))
	}
	f.Fuzz(func(t *testing.T, body []byte) { checkSameReading(t, body) })
}

// readImageRecord accepts a single-image answer exactly when readListedImage did, and
// reads the same record from it (checkImage refuses a record without id or visibility).
func checkSameRecord(t *testing.T, body []byte) {
	t.Helper()
	li, err := readImageRecord(body)
	want, wantErr := readListedImage(body)
	ok := err == nil && li.ID != "" && li.Visibility != ""
	wantOK := wantErr == nil && want.ID != "" && want.Visibility != ""
	if ok != wantOK || (ok && li != want) {
		t.Fatalf("%q: %+v %v, reference %+v %v", body, li, err, want, wantErr)
	}
}

func TestReadImageRecordReadsAsBefore(t *testing.T) {
	for _, body := range listPages {
		checkSameRecord(t, []byte(body))
		var page struct{ Images []json.RawMessage }
		if json.Unmarshal([]byte(body), &page) == nil {
			for _, item := range page.Images {
				checkSameRecord(t, item)
				checkSameRecord(t, append([]byte(" \n"), append(item, ' ')...))
			}
		}
	}
}

func FuzzReadImageRecord(f *testing.F) {
	for _, body := range listPages {
		f.Add([]byte(body))
	}
	f.Add([]byte(`{"id": "a", "owner": "o", "visibility": "public", "name": "x", "tags": [], "min_disk": 0}`))
	f.Fuzz(func(t *testing.T, body []byte) { checkSameRecord(t, body) })
}

// validJSON is validValue for a whole document, to hold it to json.Valid.
func validJSON(b []byte) bool {
	end, err := validValue(b, skipSpace(b, 0), 0)
	return err == nil && skipSpace(b, end) == len(b)
}

// validJSON accepts exactly what json.Valid accepts.
func TestValidJSON(t *testing.T) {
	cases := []string{
		``, ` `, `{}`, `[]`, `""`, `0`, `-0`, `01`, `-`, `1.`, `.5`, `1.5e`, `1e+`, `1E-7`, `-12.5e+3`,
		`true`, `tru`, `truex`, `false`, `null`, `nul`, `nullnull`, `[1,]`, `[,1]`, `{"a":1,}`, `{"a" 1}`,
		`{"a":1 "b":2}`, `{1:2}`, `[1 2]`, `[1true]`, `"a\u00e9b"`, `"\u00G0"`, `"\u12"`, `"\x"`, `"\/"`,
		"\"tab\there\"", "\"\x7f\xff\xfe\"", `"open`, `"\"`, `{"a":[{"b":null}]}`, "\t{\r\n}\n", `{} {}`,
		`[[[]]]`, `[[[]]`, `{"a":{"b":{}}}}`, `{"a"}`, `{"a":}`, `[-]`, `[--1]`, `[+1]`, `[0x10]`, `[NaN]`,
		strings.Repeat("[", 10000) + strings.Repeat("]", 10000),
		strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
		strings.Repeat(`{"a":`, 10001) + "1" + strings.Repeat("}", 10001),
	}
	for _, c := range cases {
		if got, want := validJSON([]byte(c)), json.Valid([]byte(c)); got != want {
			t.Errorf("%.40q: validJSON %v, json.Valid %v", c, got, want)
		}
	}
}

func FuzzValidJSON(f *testing.F) {
	for _, body := range listPages {
		f.Add([]byte(body))
	}
	f.Add([]byte(`{"a": [1, -2.5e+3, "x\u00e9\n", true, false, null, {}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := validJSON(b), json.Valid(b); got != want {
			t.Fatalf("%q: validJSON %v, json.Valid %v", b, got, want)
		}
	})
}
