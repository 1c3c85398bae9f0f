package imageapi_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/imagegate/imagegate/imageapi"
)

// An upstream for an integration test: real Glance's rules, the demo
// images, and a count of what reached it.
func Example() {
	api := imageapi.NewDemo(imageapi.Options{Mode: imageapi.Enforcing})
	srv := httptest.NewServer(api)
	defer srv.Close()

	get := func(project, id string) int {
		req, _ := http.NewRequest("GET", srv.URL+"/v2/images/"+id, nil)
		req.Header.Set("X-Identity-Status", "Confirmed")
		req.Header.Set("X-Project-Id", project)
		req.Header.Set("X-Roles", "member,reader")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	fmt.Println(get(imageapi.DemoTenantA, imageapi.DemoImagePrivateA))
	fmt.Println(get(imageapi.DemoTenantB, imageapi.DemoImagePrivateA))
	fmt.Println(api.Stats().Count(imageapi.RouteGetImage))
	last, _ := api.LastRequest()
	fmt.Println(last.Header.Get("X-Project-Id"))
	// Output:
	// 200
	// 404
	// 2
	// 2000
}
