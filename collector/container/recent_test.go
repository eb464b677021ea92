package container

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRecentBounded: recent holds at most n keys, forgets the oldest
// first, and holds memory only for the keys it has seen.
func TestRecentBounded(t *testing.T) {
	r := newRecent(3)
	require.Empty(t, r.ring)
	for i := range 5 {
		k := fmt.Sprint("k", i)
		require.False(t, r.has(k))
		r.add(k)
		require.True(t, r.has(k))
	}
	require.Len(t, r.set, 3)
	require.Len(t, r.ring, 3)
	require.False(t, r.has("k0"))
	require.False(t, r.has("k1"))
	for _, k := range []string{"k2", "k3", "k4"} {
		require.True(t, r.has(k), k)
	}
	r.add("k5") // evicts k2, the oldest
	require.False(t, r.has("k2"))
	require.True(t, r.has("k3"))
}
