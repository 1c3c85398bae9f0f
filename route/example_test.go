package route_test

import (
	"errors"
	"fmt"
	"net/http/httptest"

	"github.com/imagegate/imagegate/route"
)

func ExampleRouter_Resolve() {
	r := route.NewGlance()

	req := httptest.NewRequest("PUT", "/v2/images/a96b/tags/my%20tag?x=1", nil)
	op, query, err := r.Resolve(req, route.DefaultMaxParams)
	fmt.Println(op.Name, op.Params["image_id"], op.Params["tag"], query["x"], err)

	req = httptest.NewRequest("GET", "/v2/images/%2e%2e/x", nil)
	_, _, err = r.Resolve(req, route.DefaultMaxParams)
	var e *route.Error
	if errors.As(err, &e) {
		fmt.Println(e.Status(), e.Code)
	}

	req = httptest.NewRequest("DELETE", "/v2/images", nil)
	_, _, err = r.Resolve(req, route.DefaultMaxParams)
	if errors.As(err, &e) {
		fmt.Println(e.Status(), e.Code, e.Allow)
	}
	// Output:
	// tags.add a96b my tag [1] <nil>
	// 400 bad_path
	// 405 method_not_allowed [GET POST]
}

func ExampleRouter_Operations() {
	for _, o := range route.NewGlance().Operations()[:4] {
		fmt.Println(o.Method, o.Pattern, o.Name, o.Body)
	}
	// Output:
	// GET / versions.list none
	// GET /versions versions.list none
	// GET /v2/images images.list none
	// POST /v2/images images.create json
}
