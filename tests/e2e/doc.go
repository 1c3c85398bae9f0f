// Package e2e holds imagegate's end-to-end tests: a real OpenStack Glance
// (tests/glance) behind imagegate (tests/testenv), driven by a real OpenStack
// client (gophercloud) acting as several tenants, in both upstream modes.
//
//	go test ./tests/e2e/ -count=1 -v
//
// Glance must be installed (sudo tests/glance/install.sh); IMAGEGATE_SKIP_GLANCE=1
// skips these tests loudly.
package e2e
