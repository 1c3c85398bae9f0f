package authn

import (
	"crypto/sha256"
	"sync"
	"time"
)

const (
	// cacheShards spreads lock contention; a byte of the (uniform) SHA-256
	// key picks the shard. Small caches use one shard so that max_entries
	// is an exact bound.
	cacheShards = 16
	// minShardedEntries is the smallest cache that is sharded.
	minShardedEntries = 1024
	// evictionSample is how many entries an eviction looks at.
	evictionSample = 5
)

// cacheKey is the SHA-256 of a token: the cache never holds tokens, so a
// memory dump does not leak usable credentials.
type cacheKey [sha256.Size]byte

// tokenCache remembers verified tokens so that a token presented again skips
// parsing and signature verification.
//
// An entry is served only while the injected clock is before its expiry,
// which is the token's exp, or earlier when a TTL is configured; it is never
// served after the token expires. The size is bounded: when a shard is full,
// inserting evicts, among up to evictionSample entries taken from Go's
// randomised map iteration order, an expired one if any, else the one that
// expires first. That is O(1), needs no LRU bookkeeping on the hit path, and
// approximates "drop what is least valuable".
type tokenCache struct {
	shards   []cacheShard
	perShard int
	ttl      time.Duration
}

type cacheShard struct {
	mu sync.RWMutex
	m  map[cacheKey]cacheEntry
}

type cacheEntry struct {
	p       *Principal
	expires int64 // unix nanoseconds; an int compare is cheaper than time.Time
}

// newTokenCache returns nil (no caching) when maxEntries is 0.
func newTokenCache(maxEntries int, ttl time.Duration) *tokenCache {
	if maxEntries <= 0 {
		return nil
	}
	n := 1
	if maxEntries >= minShardedEntries {
		n = cacheShards
	}
	// With n shards the bound is max_entries rounded down to a multiple of n.
	c := &tokenCache{shards: make([]cacheShard, n), perShard: maxEntries / n, ttl: ttl}
	for i := range c.shards {
		c.shards[i].m = make(map[cacheKey]cacheEntry)
	}
	return c
}

func (c *tokenCache) shard(k *cacheKey) *cacheShard {
	return &c.shards[int(k[0])%len(c.shards)]
}

// get returns the principal cached under k if it has not expired at now.
func (c *tokenCache) get(k cacheKey, now time.Time) (*Principal, bool) {
	s := c.shard(&k)
	s.mu.RLock()
	e, ok := s.m[k]
	s.mu.RUnlock()
	if !ok {
		return nil, false
	}
	if now.UnixNano() >= e.expires {
		s.mu.Lock()
		if cur, ok := s.m[k]; ok && cur.expires == e.expires {
			delete(s.m, k)
		}
		s.mu.Unlock()
		return nil, false
	}
	return e.p, true
}

// put caches p under k until p.ExpiresAt (or now+ttl if sooner).
func (c *tokenCache) put(k cacheKey, p *Principal, now time.Time) {
	expires := p.ExpiresAt
	if c.ttl > 0 {
		if limit := now.Add(c.ttl); limit.Before(expires) {
			expires = limit
		}
	}
	if !expires.After(now) {
		return // already expired (accepted within the leeway): not worth caching
	}
	s := c.shard(&k)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, exists := s.m[k]; !exists && len(s.m) >= c.perShard {
		s.evictOne(now.UnixNano())
	}
	s.m[k] = cacheEntry{p: p, expires: expires.UnixNano()}
}

// evictOne removes one entry; s.mu must be held.
func (s *cacheShard) evictOne(now int64) {
	var (
		victim cacheKey
		soon   int64
		n      int
	)
	for k, e := range s.m {
		if e.expires <= now {
			victim = k
			break
		}
		if n == 0 || e.expires < soon {
			victim, soon = k, e.expires
		}
		n++
		if n >= evictionSample {
			break
		}
	}
	delete(s.m, victim)
}

// len is the number of entries, for tests.
func (c *tokenCache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}
