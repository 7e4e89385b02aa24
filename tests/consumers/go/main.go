// Decodes every fixture into the Go types quicktype generated from the published bundle
// (types_generated.go, with registry_generated.go mapping each command to its request type, both
// written by ../typescript/quicktype.mjs), re-encodes it, and compares the two as JSON values.
//
// Run with: node ../typescript/quicktype.mjs && go run .   (from tests/consumers/go)
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
)

// roundTrip decodes data as a T and encodes it again.
func roundTrip[T any](data []byte) ([]byte, error) {
	var value T
	if err := json.Unmarshal(data, &value); err != nil {
		return nil, err
	}
	return json.Marshal(value)
}

// sameJSON reports whether two documents are equal as JSON values (numbers compared as float64).
func sameJSON(a, b []byte) (bool, error) {
	var x, y interface{}
	if err := json.Unmarshal(a, &x); err != nil {
		return false, err
	}
	if err := json.Unmarshal(b, &y); err != nil {
		return false, err
	}
	return reflect.DeepEqual(x, y), nil
}

func main() {
	passed, failed := 0, 0
	try := func(name string, data []byte, decode func([]byte) ([]byte, error)) {
		again, err := decode(data)
		same := false
		if err == nil {
			same, err = sameJSON(data, again)
		}
		switch {
		case err != nil:
			failed++
			fmt.Printf("FAILED %s: %v\n", name, err)
		case !same:
			failed++
			fmt.Printf("FAILED %s: re-encoded differently:\n%s\n", name, again)
		default:
			passed++
		}
	}

	root := filepath.Join("..", "..", "..")
	dirs, err := os.ReadDir(filepath.Join(root, "tests", "fixtures"))
	if err != nil {
		panic(err)
	}
	var commands []string
	for _, dir := range dirs {
		if dir.IsDir() {
			commands = append(commands, dir.Name())
		}
	}
	sort.Strings(commands)
	for _, command := range commands {
		decode, ok := requests[command]
		if !ok {
			failed++
			fmt.Printf("FAILED %s: no generated type\n", command)
			continue
		}
		data, err := os.ReadFile(filepath.Join(root, "tests", "fixtures", command, "sample.json"))
		if err != nil {
			panic(err)
		}
		try(command, data, decode)
	}
	// One element of every kind: known kinds round-trip; an unknown kind decodes, keeping its tag
	// (its content has no Go type to land in).
	data, err := os.ReadFile(filepath.Join(root, "tests", "data", "msg-body-elements.json"))
	if err != nil {
		panic(err)
	}
	var list []json.RawMessage
	if err := json.Unmarshal(data, &list); err != nil {
		panic(err)
	}
	for i, raw := range list {
		var tag struct{ MsgType string }
		if err := json.Unmarshal(raw, &tag); err != nil {
			panic(err)
		}
		name := fmt.Sprintf("msg-body-elements.json[%d] (%s)", i, tag.MsgType)
		if knownElements[tag.MsgType] {
			try(name, raw, element)
			continue
		}
		var decoded MsgBodyElement
		if err := json.Unmarshal(raw, &decoded); err != nil || decoded.MsgType != tag.MsgType {
			failed++
			fmt.Printf("FAILED %s: %v, tag %q\n", name, err, decoded.MsgType)
		} else {
			passed++
		}
	}

	fmt.Printf("go: %d passed, %d failed\n", passed, failed)
	if failed > 0 {
		os.Exit(1)
	}
}
