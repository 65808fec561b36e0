// Package goref is the era-independent half of the goref command: the changeset file, the
// report it prints, the content digest, the seeded workload and the command line. Each era's
// module supplies the store (the real cosmos-sdk rootmulti of that era); nothing here knows
// how a store hashes or lays out its data.
package goref

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"sort"
)

// Change is one change of a changeset line: a set, or a delete when Delete is true.
type Change struct {
	Store  string
	Key    []byte
	Value  []byte
	Delete bool
}

// Changeset is one line of a changeset file: the changes that commit as Version.
type Changeset struct {
	Version int64
	Changes []Change
}

type jsonChange struct {
	Store  string  `json:"store"`
	Key    string  `json:"key"`
	Value  *string `json:"value,omitempty"`
	Delete bool    `json:"delete,omitempty"`
}

type jsonChangeset struct {
	Version int64        `json:"version"`
	Changes []jsonChange `json:"changes"`
}

// ReadChangesets reads a newline-delimited JSON changeset file, the format of
// `store-migrate apply`. Versions must run 1, 2, 3, … without a gap.
func ReadChangesets(path string) ([]Changeset, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Changeset
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<30)
	line := 0
	for sc.Scan() {
		line++
		if len(sc.Bytes()) == 0 {
			continue
		}
		var doc jsonChangeset
		if err := json.Unmarshal(sc.Bytes(), &doc); err != nil {
			return nil, fmt.Errorf("%s line %d: %w", path, line, err)
		}
		if doc.Version != int64(len(out)+1) {
			return nil, fmt.Errorf("%s line %d: version %d, expected %d", path, line, doc.Version, len(out)+1)
		}
		cs := Changeset{Version: doc.Version}
		for i, c := range doc.Changes {
			key, err := hex.DecodeString(c.Key)
			if err != nil || len(key) == 0 {
				return nil, fmt.Errorf("%s line %d change %d: bad key %q", path, line, i, c.Key)
			}
			var value []byte
			if c.Value != nil {
				value, err = hex.DecodeString(*c.Value)
			}
			if err != nil || (c.Value == nil) != c.Delete {
				return nil, fmt.Errorf("%s line %d change %d: a set needs a hex value, a delete none", path, line, i)
			}
			cs.Changes = append(cs.Changes, Change{Store: c.Store, Key: key, Value: value, Delete: c.Delete})
		}
		out = append(out, cs)
	}
	return out, sc.Err()
}

// WriteChangesets writes changesets in the format ReadChangesets reads.
func WriteChangesets(path string, sets []Changeset) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	for _, cs := range sets {
		doc := jsonChangeset{Version: cs.Version, Changes: make([]jsonChange, 0, len(cs.Changes))}
		for _, c := range cs.Changes {
			jc := jsonChange{Store: c.Store, Key: hex.EncodeToString(c.Key), Delete: c.Delete}
			if !c.Delete {
				v := hex.EncodeToString(c.Value)
				jc.Value = &v
			}
			doc.Changes = append(doc.Changes, jc)
		}
		if err := enc.Encode(doc); err != nil {
			f.Close()
			return err
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// StoresOf lists the store names the changesets touch, sorted.
func StoresOf(sets []Changeset) []string {
	seen := map[string]bool{}
	for _, cs := range sets {
		for _, c := range cs.Changes {
			seen[c.Store] = true
		}
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
