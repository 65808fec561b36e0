package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	"cosmossdk.io/log"
	dbm "github.com/cosmos/cosmos-db"
	"github.com/cosmos/iavl"
	iavldb "github.com/cosmos/iavl/db"

	goref "storemigrate.local/goref/common"
)

// bench measures, with iavl v1.2 as cosmos-sdk v0.50+ nodes run it, the work that
// `npm run bench -- iavl` and `npm run bench -- migrate` measure, on the same data. The
// TypeScript runner starts it and reports TS÷Go.
//
//	bench iavl --data FILE --block N --legacy DIR --version V --work DIR
//	bench migrate --v1 DIR/application.db --work DIR
func bench(args []string) error {
	if len(args) == 0 {
		return errors.New("bench iavl|migrate [flags]")
	}
	switch args[0] {
	case "iavl":
		return benchIavl(args[1:])
	case "migrate":
		return benchMigrate(args[1:])
	}
	return fmt.Errorf("unknown bench %q (iavl, migrate)", args[0])
}

type rate struct {
	Count     int64   `json:"count"`
	ElapsedMs float64 `json:"elapsedMs"`
	PerSec    float64 `json:"perSec"`
}

func rateOf(n int64, d time.Duration) rate {
	ms := float64(d.Nanoseconds()) / 1e6
	r := rate{Count: n, ElapsedMs: ms}
	if ms > 0 {
		r.PerSec = float64(n) / (ms / 1000)
	}
	return r
}

// newTree opens a node-key tree over db as a node's store does; fast nodes follow skipFast.
func newTree(db dbm.DB, cache int, skipFast bool) *iavl.MutableTree {
	return iavl.NewMutableTree(iavldb.NewWrapper(db), cache, skipFast, log.NewNopLogger())
}

// readPairs reads the runner's data file: uvarint(len k) k uvarint(len v) v, repeated.
func readPairs(path string) (keys, values [][]byte, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	r := bufio.NewReader(f)
	next := func() ([]byte, error) {
		n, err := binary.ReadUvarint(r)
		if err != nil {
			return nil, err
		}
		b := make([]byte, n)
		_, err = io.ReadFull(r, b)
		return b, err
	}
	for {
		k, err := next()
		if err == io.EOF {
			return keys, values, nil
		}
		if err != nil {
			return nil, nil, err
		}
		v, err := next()
		if err != nil {
			return nil, nil, fmt.Errorf("%s: truncated pair: %w", path, err)
		}
		keys, values = append(keys, k), append(values, v)
	}
}

func benchIavl(args []string) error {
	fs := flag.NewFlagSet("bench iavl", flag.ExitOnError)
	data := fs.String("data", "", "key/value file")
	block := fs.Int("block", 1000, "sets per SaveVersion")
	legacy := fs.String("legacy", "", "a legacy-layout (bare) tree to export, as the runner wrote it")
	version := fs.Int64("version", 0, "the version of that tree to export")
	work := fs.String("work", "", "scratch directory")
	cache := fs.Int("cache", 500000, "node cache, in nodes (the cosmos-sdk default)")
	fs.Parse(args)
	if *data == "" || *legacy == "" || *work == "" || *version == 0 {
		return errors.New("--data, --legacy, --version and --work are required")
	}
	keys, values, err := readPairs(*data)
	if err != nil {
		return err
	}
	out := map[string]any{"modules": goref.ModuleVersions(), "cacheNodes": *cache, "fastNodes": false, "keys": len(keys), "block": *block}

	// Set + SaveVersion, one version per block, fast nodes off as in the runner.
	db, err := dbm.NewGoLevelDB("setsave", *work, nil)
	if err != nil {
		return err
	}
	tree := newTree(db, *cache, true)
	if _, err := tree.LoadVersion(0); err != nil {
		return err
	}
	start := time.Now()
	var root []byte
	for i := 0; i < len(keys); i += *block {
		for j := i; j < min(i+*block, len(keys)); j++ {
			if _, err := tree.Set(keys[j], values[j]); err != nil {
				return err
			}
		}
		if root, _, err = tree.SaveVersion(); err != nil {
			return err
		}
	}
	setSave := rateOf(int64(len(keys)), time.Since(start))
	db.Close()
	out["setSave"] = map[string]any{"keys": setSave.Count, "elapsedMs": setSave.ElapsedMs, "keysPerSec": setSave.PerSec, "rootHash": fmt.Sprintf("%x", root)}

	// Cold export of the runner's legacy tree: a fresh open, iavl v1 reading legacy nodes.
	src, done, err := openReadOnly(*legacy)
	if err != nil {
		return err
	}
	srcTree := newTree(src, *cache, true)
	if _, err := srcTree.LoadVersion(*version); err != nil {
		done()
		return fmt.Errorf("loading the legacy tree at %d: %w", *version, err)
	}
	imm, err := srcTree.GetImmutable(*version)
	if err != nil {
		done()
		return err
	}
	start = time.Now()
	exp, err := imm.Export()
	if err != nil {
		done()
		return err
	}
	var nodes []*iavl.ExportNode
	for {
		n, err := exp.Next()
		if errors.Is(err, iavl.ErrorExportDone) {
			break
		}
		if err != nil {
			exp.Close()
			done()
			return err
		}
		nodes = append(nodes, n)
	}
	export := rateOf(int64(len(nodes)), time.Since(start))
	exp.Close()
	srcRoot := imm.Hash()
	done()
	out["exportCold"] = map[string]any{"nodes": export.Count, "elapsedMs": export.ElapsedMs, "nodesPerSec": export.PerSec}

	// Import of those nodes into a fresh node-key tree.
	dst, err := dbm.NewGoLevelDB("import", *work, nil)
	if err != nil {
		return err
	}
	defer dst.Close()
	dstTree := newTree(dst, *cache, true)
	start = time.Now()
	imp, err := dstTree.Import(*version)
	if err != nil {
		return err
	}
	for _, n := range nodes {
		if err := imp.Add(n); err != nil {
			return err
		}
	}
	if err := imp.Commit(); err != nil {
		return err
	}
	imported := rateOf(int64(len(nodes)), time.Since(start))
	out["import"] = map[string]any{"nodes": imported.Count, "elapsedMs": imported.ElapsedMs, "nodesPerSec": imported.PerSec,
		"rootHash": fmt.Sprintf("%x", dstTree.Hash()), "hashMatches": bytes.Equal(dstTree.Hash(), srcRoot)}
	return goref.WriteJSON("-", out)
}

// benchMigrate is the state-commitment half of cosmos-sdk's store/v2 migration: every store's
// tree exported from a v1 application.db with iavl v1 (which reads both layouts) and imported
// into a node-key tree in a fresh database, store after store.
func benchMigrate(args []string) error {
	fs := flag.NewFlagSet("bench migrate", flag.ExitOnError)
	v1 := fs.String("v1", "", "the v1 application.db")
	work := fs.String("work", "", "scratch directory")
	cache := fs.Int("cache", 500000, "node cache, in nodes")
	fs.Parse(args)
	if *v1 == "" || *work == "" {
		return errors.New("--v1 and --work are required")
	}
	src, done, err := openReadOnly(*v1)
	if err != nil {
		return err
	}
	defer done()
	height, err := latestOf(src, "s/", *v1)
	if err != nil {
		return err
	}
	ci, err := commitInfoAt(src, "s/", height)
	if err != nil || ci == nil {
		return fmt.Errorf("no CommitInfo at %d (%v)", height, err)
	}
	sort.Slice(ci.StoreInfos, func(i, j int) bool { return ci.StoreInfos[i].Name < ci.StoreInfos[j].Name })
	dst, err := dbm.NewGoLevelDB("v2", filepath.Clean(*work), nil)
	if err != nil {
		return err
	}
	defer dst.Close()
	var leaves, nodes int64
	start := time.Now()
	for _, si := range ci.StoreInfos {
		prefix := []byte("s/k:" + si.Name + "/")
		from := newTree(dbm.NewPrefixDB(src, prefix), *cache, true)
		if _, err := from.LoadVersion(height); err != nil {
			return fmt.Errorf("store %s: %w", si.Name, err)
		}
		imm, err := from.GetImmutable(height)
		if err != nil {
			return err
		}
		to := newTree(dbm.NewPrefixDB(dst, prefix), *cache, true)
		imp, err := to.Import(height)
		if err != nil {
			return err
		}
		exp, err := imm.Export()
		if err != nil {
			return err
		}
		for {
			n, err := exp.Next()
			if errors.Is(err, iavl.ErrorExportDone) {
				break
			}
			if err != nil {
				return err
			}
			nodes++
			if n.Height == 0 {
				leaves++
			}
			if err := imp.Add(n); err != nil {
				return err
			}
		}
		exp.Close()
		if err := imp.Commit(); err != nil {
			return err
		}
		if !bytes.Equal(to.Hash(), si.CommitId.Hash) {
			return fmt.Errorf("store %s: imported root %x, v1 root %x", si.Name, to.Hash(), si.CommitId.Hash)
		}
	}
	r := rateOf(leaves, time.Since(start))
	return goref.WriteJSON("-", map[string]any{"modules": goref.ModuleVersions(), "height": height, "stores": len(ci.StoreInfos),
		"leaves": leaves, "nodes": nodes, "elapsedMs": r.ElapsedMs, "leavesPerSec": r.PerSec, "rootsMatch": true})
}
