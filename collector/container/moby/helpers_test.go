package moby_test

import (
	"sync"
	"testing"

	"github.com/edgesec/edgesec/schemas"
)

var schemaValidator = sync.OnceValues(schemas.NewValidator)

func newValidator(t *testing.T) *schemas.Validator {
	t.Helper()
	v, err := schemaValidator()
	if err != nil {
		t.Fatal(err)
	}
	return v
}
