package proxy

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
)

// Sealed pagination markers.
//
// When the proxy filters a list page, the upstream's next link can name an image the
// caller may not see. Handing that id out would leak it, and refusing it as a marker
// would break paging. So the proxy seals such a marker for the caller: an HMAC over the
// caller's tenant and the id. Only the proxy can make one, and only for the tenant it
// was made for, so accepting it reveals nothing the caller did not already get.
const sealedPrefix = "ig1."

type markerSealer struct{ key []byte }

func (s markerSealer) mac(tenant, id string) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(tenant))
	m.Write([]byte{0})
	m.Write([]byte(id))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}

func (s markerSealer) seal(tenant, id string) string {
	return sealedPrefix + base64.RawURLEncoding.EncodeToString([]byte(id)) + "." + s.mac(tenant, id)
}

// unseal returns the id of a sealed marker; ok is false when marker is not sealed, and
// err is set when it looks sealed but was not made for this tenant by this proxy.
func (s markerSealer) unseal(tenant, marker string) (id string, ok bool, err error) {
	rest, sealed := strings.CutPrefix(marker, sealedPrefix)
	if !sealed {
		return "", false, nil
	}
	enc, mac, found := strings.Cut(rest, ".")
	raw, derr := base64.RawURLEncoding.DecodeString(enc)
	if !found || derr != nil {
		return "", true, fmt.Errorf("marker %s not found", marker)
	}
	id = string(raw)
	if !hmac.Equal([]byte(mac), []byte(s.mac(tenant, id))) {
		return "", true, fmt.Errorf("marker %s not found", marker)
	}
	return id, true, nil
}
