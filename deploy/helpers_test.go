package deploy

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// readFile returns the contents of a file relative to the deploy/ directory.
func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.FromSlash(path))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// mutate returns src with old replaced by new, failing the test unless old
// occurs exactly once (so a negative test cannot silently mutate nothing).
func mutate(t *testing.T, src []byte, old, new string) []byte {
	t.Helper()
	if n := bytes.Count(src, []byte(old)); n != 1 {
		t.Fatalf("mutation target %q occurs %d times, want 1", old, n)
	}
	return bytes.Replace(src, []byte(old), []byte(new), 1)
}

// unmarshalProtoYAML decodes YAML into m strictly: duplicate keys and
// unknown fields are errors, and every google.protobuf.Any must resolve to
// a registered type.
func unmarshalProtoYAML(y []byte, m proto.Message) error {
	j, err := yaml.YAMLToJSONStrict(y)
	if err != nil {
		return fmt.Errorf("yaml: %w", err)
	}
	if err := (protojson.UnmarshalOptions{}).Unmarshal(j, m); err != nil {
		return fmt.Errorf("protojson: %w", err)
	}
	return nil
}

// unmarshalStrictYAML decodes a single-document YAML manifest into v the
// way the Kubernetes API server does: unknown and duplicate fields are
// errors and field names are case-sensitive. (yaml.UnmarshalStrict and
// encoding/json's DisallowUnknownFields both match field names
// case-insensitively, so they accept a misspelt "readonlyRootFilesystem"
// that the API server would reject.)
func unmarshalStrictYAML(y []byte, v any) error {
	for i, line := range strings.Split(string(y), "\n") {
		if strings.TrimSpace(line) == "---" {
			return fmt.Errorf("line %d: document separator; keep one object per file", i+1)
		}
	}
	j, err := yaml.YAMLToJSONStrict(y)
	if err != nil {
		return fmt.Errorf("yaml: %w", err)
	}
	strictErrs, err := kjson.UnmarshalStrict(j, v)
	if err != nil {
		return err
	}
	return errors.Join(strictErrs...)
}

type allValidator interface{ ValidateAll() error }

// validateDeep runs the protoc-gen-validate rules of m and, because those
// stop at google.protobuf.Any fields, of every message packed in an Any
// below it (typed_config, typed_per_filter_config, ...), recursively.
func validateDeep(m proto.Message) error {
	if v, ok := m.(allValidator); ok {
		if err := v.ValidateAll(); err != nil {
			return fmt.Errorf("%s: %w", m.ProtoReflect().Descriptor().FullName(), err)
		}
	}
	return walkAnys(m.ProtoReflect())
}

func walkAnys(m protoreflect.Message) error {
	if a, ok := m.Interface().(*anypb.Any); ok {
		inner, err := a.UnmarshalNew()
		if err != nil {
			return fmt.Errorf("%s: %w", a.GetTypeUrl(), err)
		}
		return validateDeep(inner)
	}
	var err error
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList() && fd.Message() != nil:
			l := v.List()
			for i := 0; i < l.Len() && err == nil; i++ {
				err = walkAnys(l.Get(i).Message())
			}
		case fd.IsMap() && fd.MapValue().Message() != nil:
			v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
				err = walkAnys(mv.Message())
				return err == nil
			})
		case !fd.IsList() && !fd.IsMap() && fd.Message() != nil:
			err = walkAnys(v.Message())
		}
		return err == nil
	})
	return err
}

// unpack unpacks a into into, which must be a new, empty message.
func unpack[T proto.Message](a *anypb.Any, into T) (T, error) {
	if a == nil {
		return into, fmt.Errorf("missing typed config, want %s", into.ProtoReflect().Descriptor().FullName())
	}
	if err := a.UnmarshalTo(into); err != nil {
		return into, fmt.Errorf("unpack %s: %w", a.GetTypeUrl(), err)
	}
	return into, nil
}
