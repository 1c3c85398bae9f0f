package enrich

import (
	"sync"
	"time"
)

// cache holds, per image, its record and the memberships looked up, so that a write to
// the image forgets all of them at once. Negative answers (no such image, no membership)
// are cached too: they are what a probing caller would repeat.
type cache struct {
	mu      sync.Mutex
	ttl     time.Duration
	max     int
	now     func() time.Time
	entries map[string]*imageEntry
	// gen counts invalidations: a lookup that started before a write must not store what
	// it read, since the write may have changed it.
	gen uint64
}

type imageEntry struct {
	image     map[string]any
	hasImage  bool
	imageExp  time.Time
	members   map[string]memberEntry
	lastTouch time.Time
}

type memberEntry struct {
	m   *Membership
	exp time.Time
}

func newCache(max int, ttl time.Duration, now func() time.Time) *cache {
	return &cache{ttl: ttl, max: max, now: now, entries: map[string]*imageEntry{}}
}

func (c *cache) enabled() bool { return c.ttl > 0 && c.max > 0 }

func (c *cache) image(id string) (map[string]any, bool) {
	if !c.enabled() {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[id]
	if e == nil || !e.hasImage || !c.now().Before(e.imageExp) {
		return nil, false
	}
	return e.image, true
}

func (c *cache) membership(imageID, tenant string) (*Membership, bool) {
	if !c.enabled() {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[imageID]
	if e == nil {
		return nil, false
	}
	m, ok := e.members[tenant]
	if !ok || !c.now().Before(m.exp) {
		return nil, false
	}
	return m.m, true
}

func (c *cache) entry(id string) *imageEntry {
	e := c.entries[id]
	if e == nil {
		if len(c.entries) >= c.max {
			c.evict()
		}
		e = &imageEntry{}
		c.entries[id] = e
	}
	e.lastTouch = c.now()
	return e
}

// evict drops expired entries, and if none expired, the least recently stored one. It is
// O(n) but runs only when the cache is full, which a short TTL keeps rare.
func (c *cache) evict() {
	now := c.now()
	var oldestID string
	var oldest time.Time
	for id, e := range c.entries {
		if !now.Before(e.imageExp) && len(e.members) == 0 {
			delete(c.entries, id)
			continue
		}
		if oldestID == "" || e.lastTouch.Before(oldest) {
			oldestID, oldest = id, e.lastTouch
		}
	}
	if len(c.entries) >= c.max && oldestID != "" {
		delete(c.entries, oldestID)
	}
}

// generation returns the invalidation counter, to pass to put* after the lookup.
func (c *cache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

func (c *cache) putImage(gen uint64, id string, img map[string]any) {
	if !c.enabled() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	e := c.entry(id)
	e.image, e.hasImage, e.imageExp = img, true, c.now().Add(c.ttl)
}

func (c *cache) putMembership(gen uint64, imageID, tenant string, m *Membership) {
	if !c.enabled() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	e := c.entry(imageID)
	if e.members == nil {
		e.members = map[string]memberEntry{}
	}
	e.members[tenant] = memberEntry{m: m, exp: c.now().Add(c.ttl)}
}

func (c *cache) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	delete(c.entries, id)
}
