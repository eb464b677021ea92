package aggregate

import (
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/edgesec/edgesec/schemas"
)

var validator = sync.OnceValues(schemas.NewValidator)

// validateSchema validates a message body against the official ASC schema
// (or the edgesec root for extension events).
func validateSchema(t *testing.T, body []byte) {
	t.Helper()
	v, err := validator()
	require.NoError(t, err)
	require.NoError(t, v.ValidateMessage(body))
}

// TestValidatorRejectsASCAggregatedCategory guards against a vacuous
// validation: the reference agents' "Aggregated" category is invalid.
func TestValidatorRejectsASCAggregatedCategory(t *testing.T) {
	c := newClock()
	p := New(settings(c, 0))
	p.Add(procCreate(c.Now(), "/bin/ls", "ls", "0", 1))
	bodies := p.Pack(1, false)
	require.Len(t, bodies, 1)
	v, err := validator()
	require.NoError(t, err)
	require.NoError(t, v.ValidateMessage(bodies[0]))
	bad := []byte(strings.Replace(string(bodies[0]), `"Category":"Triggered"`, `"Category":"Aggregated"`, 1))
	require.Error(t, v.ValidateMessage(bad))
}
