package imageapi

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestTags(t *testing.T) {
	tests := []struct {
		name   string
		mode   Mode
		method string
		image  string
		tag    string
		id     identity
		code   int
		tags   string // tags afterwards, comma-joined
	}{
		{"owner adds", Enforcing, "PUT", DemoImageUbuntu, "new", member1000, 204, "ubuntu,lts,new"},
		{"adding twice is fine", Enforcing, "PUT", DemoImageUbuntu, "lts", member1000, 204, "ubuntu,lts"},
		{"owner removes", Enforcing, "DELETE", DemoImageUbuntu, "ubuntu", member1000, 204, "lts"},
		{"remove missing", Enforcing, "DELETE", DemoImageUbuntu, "nope", member1000, 404, "ubuntu,lts"},
		{"escaped tag", Enforcing, "PUT", DemoImageUbuntu, "a/b c", member1000, 204, "ubuntu,lts,a/b c"},
		{"too long", Enforcing, "PUT", DemoImageUbuntu, strings.Repeat("x", 256), member1000, 400, "ubuntu,lts"},
		{"other tenant public", Enforcing, "PUT", DemoImageUbuntu, "x", member2000, 403, "ubuntu,lts"},
		{"reader owner", Enforcing, "PUT", DemoImageUbuntu, "x", reader1000, 403, "ubuntu,lts"},
		{"invisible", Enforcing, "PUT", DemoImagePrivateA, "x", member2000, 404, "db"},
		{"admin", Enforcing, "DELETE", DemoImagePrivateA, "db", admin9999, 204, ""},
		{"naive anyone", Naive, "PUT", DemoImagePrivateA, "x", anonymous, 204, "db,x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newDemo(t, tt.mode)
			expect(t, a, request{method: tt.method, path: "/v2/images/" + tt.image + "/tags/" + url.PathEscape(tt.tag), id: tt.id}, tt.code)
			img, _ := a.Image(tt.image)
			want(t, strings.Join(img.Tags, ","), tt.tags)
		})
	}
	t.Run("quota", func(t *testing.T) {
		a := newDemo(t, Enforcing)
		id := createImage(t, a, member1000, map[string]any{})
		for i := range MaxTagsPerImage {
			expect(t, a, request{method: "PUT", path: fmt.Sprintf("/v2/images/%s/tags/t%d", id, i), id: member1000}, http.StatusNoContent)
		}
		expect(t, a, request{method: "PUT", path: "/v2/images/" + id + "/tags/one-more", id: member1000}, http.StatusRequestEntityTooLarge)
	})
}
