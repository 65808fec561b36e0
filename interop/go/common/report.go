package goref

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"os"
	"runtime/debug"
	"sort"
	"strings"
)

// StoreReport is one store of a height's CommitInfo, as Go wrote it, and whether Go still
// finds the store's tree at that height (pruned heights keep their CommitInfo, not their trees).
type StoreReport struct {
	Name     string `json:"name"`
	Version  int64  `json:"version"`
	RootHash string `json:"rootHash"`
	Tree     bool   `json:"tree"`
}

// HeightReport is one height: the app hash Go computes from its CommitInfo, and its stores
// in the order Go wrote them.
type HeightReport struct {
	Height    int64         `json:"height"`
	AppHash   string        `json:"appHash"`
	Timestamp string        `json:"timestamp,omitempty"`
	Queryable bool          `json:"queryable"`
	Stores    []StoreReport `json:"stores"`
}

// Digest sums a store's whole content at one height (see ContentDigest).
type Digest struct {
	Keys   int    `json:"keys"`
	Sha256 string `json:"sha256"`
}

// Report is what `apply` writes to expected.json and what `read` prints.
type Report struct {
	Era string `json:"era"`
	// Modules names the Go module versions that wrote or read the database.
	Modules       map[string]string `json:"modules"`
	LatestVersion int64             `json:"latestVersion"`
	// Queryable lists the heights at which every store with a tree still has it.
	Queryable []int64        `json:"queryable"`
	Heights   []HeightReport `json:"heights"`
	// Digests holds every IAVL store's content at LatestVersion.
	Digests map[string]Digest `json:"digests"`
	// Contents holds every store's content digest at every queryable height (by height).
	Contents map[string]map[string]Digest `json:"contents,omitempty"`
	// Options records how the database was written (pruning, upgrades), for a reader.
	Options map[string]any `json:"options,omitempty"`
}

// ContentDigest is sha256 over every (key, value) in ascending key order, each as
// uvarint(len(key)) key uvarint(len(value)) value. The TypeScript side computes the same.
type ContentDigest struct {
	h    []byte
	sum  hashState
	keys int
}

type hashState interface {
	Write([]byte) (int, error)
	Sum([]byte) []byte
}

// NewContentDigest starts an empty digest.
func NewContentDigest() *ContentDigest {
	return &ContentDigest{sum: sha256.New(), h: make([]byte, binary.MaxVarintLen64)}
}

// Add adds one pair; pairs must come in ascending key order.
func (d *ContentDigest) Add(key, value []byte) {
	n := binary.PutUvarint(d.h, uint64(len(key)))
	d.sum.Write(d.h[:n])
	d.sum.Write(key)
	n = binary.PutUvarint(d.h, uint64(len(value)))
	d.sum.Write(d.h[:n])
	d.sum.Write(value)
	d.keys++
}

// Result is the digest of what was added.
func (d *ContentDigest) Result() Digest {
	return Digest{Keys: d.keys, Sha256: hex.EncodeToString(d.sum.Sum(nil))}
}

// ModuleVersions names the versions of the store modules this binary was built with.
func ModuleVersions() map[string]string {
	out := map[string]string{}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return out
	}
	out["go"] = info.GoVersion
	for _, m := range info.Deps {
		for _, want := range []string{"cosmos-sdk", "cosmossdk.io/store", "cosmos/iavl", "tm-db", "cometbft-db", "cosmos-db", "goleveldb"} {
			if strings.Contains(m.Path, want) {
				v := m.Version
				if m.Replace != nil {
					v = m.Replace.Path + "@" + m.Replace.Version
				}
				out[m.Path] = v
			}
		}
	}
	return out
}

// WriteJSON writes v, indented, to path ("-" is stdout).
func WriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if path == "-" {
		_, err = os.Stdout.Write(b)
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
