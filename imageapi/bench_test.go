package imageapi

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

// benchAPI returns an Enforcing API with the demo fixture plus n images of
// tenant 1000 carrying a few properties and tags.
func benchAPI(b *testing.B, n int) *API {
	a := newDemo(b, Enforcing)
	images := make([]SeedImage, n)
	for i := range images {
		images[i] = SeedImage{Image: Image{
			Name: fmt.Sprintf("bench-%04d", i), Owner: DemoTenantA, Visibility: VisibilityPrivate,
			Status: StatusActive, DiskFormat: "qcow2", ContainerFormat: "bare",
			Tags:       []string{"bench", "x86_64"},
			Properties: map[string]string{"os_distro": "ubuntu", "os_version": "24.04", "hw_disk_bus": "virtio"},
			CreatedAt:  demoEpoch.AddDate(0, 0, i+1),
		}}
	}
	if err := a.SeedImages(images...); err != nil {
		b.Fatal(err)
	}
	return a
}

func benchRequest(b *testing.B, a *API, path string) {
	r := request{method: "GET", path: path, id: member1000}.build()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		w := httptest.NewRecorder()
		a.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d", w.Code)
		}
	}
}

// BenchmarkListImages25 measures one default page (25 images) of a tenant
// that sees about 1,000 images.
func BenchmarkListImages25(b *testing.B) {
	a := benchAPI(b, 1000)
	benchRequest(b, a, "/v2/images")
}

// BenchmarkGetImage measures GET /v2/images/{id}.
func BenchmarkGetImage(b *testing.B) {
	a := benchAPI(b, 1000)
	benchRequest(b, a, "/v2/images/"+DemoImageUbuntu)
}
