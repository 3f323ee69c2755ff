package result

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// ResultSchema is the JSON Schema of result.json.
//
//go:embed result.schema.json
var ResultSchema []byte

var (
	compileOnce sync.Once
	compiled    *jsonschema.Schema
	compileErr  error
)

// Validate checks a result document against ResultSchema.
func Validate(doc []byte) error {
	compileOnce.Do(func() {
		schemaDoc, err := jsonschema.UnmarshalJSON(bytes.NewReader(ResultSchema))
		if err != nil {
			compileErr = fmt.Errorf("result schema: %w", err)
			return
		}
		c := jsonschema.NewCompiler()
		c.AssertFormat()
		if err := c.AddResource("result.schema.json", schemaDoc); err != nil {
			compileErr = fmt.Errorf("result schema: %w", err)
			return
		}
		compiled, compileErr = c.Compile("result.schema.json")
	})
	if compileErr != nil {
		return compileErr
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return fmt.Errorf("result: %w", err)
	}
	if err := compiled.Validate(inst); err != nil {
		return fmt.Errorf("result does not match %s: %w", SchemaVersion, err)
	}
	return nil
}

// ValidateResult encodes r and validates it.
func ValidateResult(r *Result) error {
	doc, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return Validate(doc)
}
