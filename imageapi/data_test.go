package imageapi

import (
	"bytes"
	"crypto/md5"
	"crypto/sha512"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// chunkedReader hands out its data in small chunks, like a streaming client.
type chunkedReader struct {
	data  []byte
	chunk int
	reads int
}

func (r *chunkedReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), r.chunk, len(r.data))
	copy(p, r.data[:n])
	r.data = r.data[n:]
	r.reads++
	return n, nil
}

func TestUploadDownloadLarge(t *testing.T) {
	for _, mode := range []Mode{Enforcing, Naive} {
		t.Run(mode.String(), func(t *testing.T) {
			a := New(Options{Mode: mode, Now: testClock(), MaxImageBytes: 16 << 20})
			// Serve over a real listener so the body really streams.
			srv := httptest.NewServer(a)
			defer srv.Close()

			id := createImage(t, a, member1000, map[string]any{"name": "big", "disk_format": "raw", "container_format": "bare"})
			data := demoData("eight-mebibytes", 8<<20)
			body := &chunkedReader{data: data, chunk: 64 << 10}
			req, _ := http.NewRequest("PUT", srv.URL+"/v2/images/"+id+"/file", body)
			req.ContentLength = -1 // chunked transfer encoding
			req.Header.Set("Content-Type", "application/octet-stream")
			for k, v := range member1000 {
				req.Header.Set(k, v)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNoContent {
				t.Fatalf("upload: %d", resp.StatusCode)
			}
			if body.reads < 100 {
				t.Fatalf("body read in %d chunks", body.reads)
			}

			sumMD5 := md5.Sum(data)
			sumSHA := sha512.Sum512(data)
			img, _ := a.Image(id)
			if img.Status != StatusActive || img.Size == nil || *img.Size != int64(len(data)) ||
				img.Checksum != hex.EncodeToString(sumMD5[:]) || img.OSHashValue != hex.EncodeToString(sumSHA[:]) {
				t.Fatalf("after upload: %+v", img)
			}
			w := expect(t, a, request{method: "GET", path: "/v2/images/" + id, id: member1000}, http.StatusOK)
			if got := decode[map[string]any](t, w)["checksum"]; got != hex.EncodeToString(sumMD5[:]) {
				t.Fatalf("checksum in view %v", got)
			}

			w = expect(t, a, request{method: "GET", path: "/v2/images/" + id + "/file", id: member1000}, http.StatusOK)
			if !bytes.Equal(w.Body.Bytes(), data) {
				t.Fatal("downloaded data differ")
			}
			if w.Header().Get("Content-MD5") != img.Checksum || w.Header().Get("Content-Type") != "application/octet-stream" {
				t.Fatalf("download headers %v", w.Header())
			}

			w = expect(t, a, request{method: "GET", path: "/v2/images/" + id + "/file", id: member1000,
				headers: map[string]string{"Range": "bytes=1000-1999"}}, http.StatusPartialContent)
			if !bytes.Equal(w.Body.Bytes(), data[1000:2000]) {
				t.Fatal("range content differs")
			}
			if got := w.Header().Get("Content-Range"); got != "bytes 1000-1999/8388608" {
				t.Fatalf("Content-Range %q", got)
			}
		})
	}
}

func TestUploadRules(t *testing.T) {
	ready := map[string]any{"disk_format": "raw", "container_format": "bare"}
	tests := []struct {
		name    string
		mode    Mode
		create  map[string]any // nil: use image
		image   string
		id      identity
		ct      string
		body    []byte
		code    int
		status  string // status afterwards
		maxSize int64
	}{
		{name: "owner uploads", create: ready, id: member1000, body: []byte("data"), code: 204, status: StatusActive},
		{name: "second upload conflicts", image: DemoImagePrivateA, id: member1000, body: []byte("x"), code: 409, status: StatusActive},
		{name: "queued demo image", image: DemoImageQueuedA, id: member1000, body: []byte("x"), code: 204, status: StatusActive},
		{name: "formats required", create: map[string]any{}, id: member1000, body: []byte("x"), code: 400, status: StatusQueued},
		{name: "content type required", create: ready, id: member1000, ct: "-", body: []byte("x"), code: 415, status: StatusQueued},
		{name: "wrong content type", create: ready, id: member1000, ct: "application/json", body: []byte("x"), code: 415, status: StatusQueued},
		{name: "too large", create: ready, id: member1000, body: make([]byte, 2048), maxSize: 1024, code: 413, status: StatusQueued},
		{name: "exactly the cap", create: ready, id: member1000, body: make([]byte, 1024), maxSize: 1024, code: 204, status: StatusActive},
		{name: "reader owner", image: DemoImageQueuedA, id: reader1000, body: []byte("x"), code: 403, status: StatusQueued},
		{name: "other tenant", image: DemoImageQueuedA, id: member2000, body: []byte("x"), code: 404, status: StatusQueued},
		{name: "naive anyone", mode: Naive, image: DemoImageQueuedA, id: anonymous, body: []byte("x"), code: 204, status: StatusActive},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := NewDemo(Options{Mode: tt.mode, Now: testClock(), MaxImageBytes: tt.maxSize})
			id := tt.image
			if tt.create != nil {
				id = createImage(t, a, member1000, tt.create)
			}
			headers := octetHeaders()
			switch tt.ct {
			case "-":
				headers = nil
			case "":
			default:
				headers = map[string]string{"Content-Type": tt.ct}
			}
			expect(t, a, request{method: "PUT", path: "/v2/images/" + id + "/file", id: tt.id, headers: headers, body: tt.body}, tt.code)
			img, _ := a.Image(id)
			want(t, img.Status, tt.status)
		})
	}
}

func TestUploadOverCapWithoutContentLength(t *testing.T) {
	a := New(Options{Mode: Enforcing, Now: testClock(), MaxImageBytes: 1 << 20})
	id := createImage(t, a, member1000, map[string]any{"disk_format": "raw", "container_format": "bare"})
	r := request{method: "PUT", path: "/v2/images/" + id + "/file", id: member1000, headers: octetHeaders()}.build()
	r.Body = io.NopCloser(&chunkedReader{data: make([]byte, 3<<20), chunk: 32 << 10})
	r.ContentLength = -1
	w := httptestServe(a, r)
	if w.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d", w.Code)
	}
	img, _ := a.Image(id)
	want(t, img.Status, StatusQueued)
	// The image accepts a later, smaller upload.
	expect(t, a, request{method: "PUT", path: "/v2/images/" + id + "/file", id: member1000, headers: octetHeaders(), body: []byte("ok")}, http.StatusNoContent)
}

func TestDownloadRules(t *testing.T) {
	tests := []struct {
		name  string
		mode  Mode
		id    identity
		image string
		code  int
	}{
		{"owner", Enforcing, member1000, DemoImagePrivateA, 200},
		{"public", Enforcing, member3000, DemoImageUbuntu, 200},
		{"pending member", Enforcing, member3000, DemoImageSharedA, 200},
		{"rejected member", Enforcing, member1000, DemoImageSharedB, 200},
		{"reader cannot download", Enforcing, reader1000, DemoImagePrivateA, 403},
		{"invisible", Enforcing, member2000, DemoImagePrivateA, 404},
		{"deactivated for non-admin", Enforcing, member1000, DemoImageDeactivatedA, 403},
		{"deactivated for admin", Enforcing, admin9999, DemoImageDeactivatedA, 200},
		{"no data", Enforcing, member1000, DemoImageQueuedA, 204},
		{"naive", Naive, anonymous, DemoImagePrivateC, 200},
		{"naive deactivated", Naive, anonymous, DemoImageDeactivatedA, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newDemo(t, tt.mode)
			w := expect(t, a, request{method: "GET", path: "/v2/images/" + tt.image + "/file", id: tt.id}, tt.code)
			if tt.code == 200 {
				data, _ := a.ImageData(tt.image)
				if !bytes.Equal(w.Body.Bytes(), data) || len(data) == 0 {
					t.Fatal("data differ")
				}
			}
		})
	}
}

func TestStageAndImport(t *testing.T) {
	a := newDemo(t, Enforcing)
	id := createImage(t, a, member1000, map[string]any{"name": "staged", "disk_format": "qcow2", "container_format": "bare"})
	importBody := map[string]any{"method": map[string]string{"name": "glance-direct"}}

	// Import before staging conflicts.
	expect(t, a, request{method: "POST", path: "/v2/images/" + id + "/import", id: member1000, body: importBody}, http.StatusConflict)
	// Another tenant cannot stage; a reader owner neither.
	expect(t, a, request{method: "PUT", path: "/v2/images/" + id + "/stage", id: member2000, headers: octetHeaders(), body: []byte("x")}, http.StatusNotFound)
	expect(t, a, request{method: "PUT", path: "/v2/images/" + id + "/stage", id: reader1000, headers: octetHeaders(), body: []byte("x")}, http.StatusForbidden)

	data := demoData("staged", 100000)
	expect(t, a, request{method: "PUT", path: "/v2/images/" + id + "/stage", id: member1000, headers: octetHeaders(), body: data}, http.StatusNoContent)
	img, _ := a.Image(id)
	want(t, img.Status, StatusUploading)
	expect(t, a, request{method: "PUT", path: "/v2/images/" + id + "/stage", id: member1000, headers: octetHeaders(), body: data}, http.StatusConflict)

	// Bad import bodies.
	expect(t, a, request{method: "POST", path: "/v2/images/" + id + "/import", id: member1000, body: map[string]any{}}, http.StatusBadRequest)
	expect(t, a, request{method: "POST", path: "/v2/images/" + id + "/import", id: member1000,
		body: map[string]any{"method": map[string]string{"name": "web-download"}}}, http.StatusBadRequest)
	// Only the owner imports.
	expect(t, a, request{method: "POST", path: "/v2/images/" + id + "/import", id: member2000, body: importBody}, http.StatusNotFound)

	expect(t, a, request{method: "POST", path: "/v2/images/" + id + "/import", id: member1000, body: importBody}, http.StatusAccepted)
	img, _ = a.Image(id)
	sum := md5.Sum(data)
	if img.Status != StatusActive || *img.Size != int64(len(data)) || img.Checksum != hex.EncodeToString(sum[:]) {
		t.Fatalf("after import %+v", img)
	}
	got, _ := a.ImageData(id)
	if !bytes.Equal(got, data) {
		t.Fatal("imported data differ")
	}
	expect(t, a, request{method: "POST", path: "/v2/images/" + id + "/import", id: member1000, body: importBody}, http.StatusConflict)

	// The import left a task on the image.
	w := expect(t, a, request{method: "GET", path: "/v2/images/" + id + "/tasks", id: member1000}, http.StatusOK)
	tasks := decode[struct {
		Tasks []map[string]any `json:"tasks"`
	}](t, w).Tasks
	if len(tasks) != 1 || tasks[0]["type"] != "api_image_import" || tasks[0]["status"] != "success" || tasks[0]["image_id"] != id {
		t.Fatalf("image tasks %v", tasks)
	}
	// Another tenant sees neither the image nor its tasks.
	expect(t, a, request{method: "GET", path: "/v2/images/" + id + "/tasks", id: member2000}, http.StatusNotFound)

	// copy-image is admin only and needs an active image.
	copyBody := map[string]any{"method": map[string]string{"name": "copy-image"}}
	expect(t, a, request{method: "POST", path: "/v2/images/" + id + "/import", id: member1000, body: copyBody}, http.StatusForbidden)
	expect(t, a, request{method: "POST", path: "/v2/images/" + id + "/import", id: admin9999, body: copyBody}, http.StatusAccepted)
	expect(t, a, request{method: "POST", path: "/v2/images/" + DemoImageQueuedA + "/import", id: admin9999, body: copyBody}, http.StatusConflict)
}
