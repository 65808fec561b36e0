package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"cosmossdk.io/log"
	dbm "github.com/cosmos/cosmos-db"
	"github.com/cosmos/iavl"
	iavldb "github.com/cosmos/iavl/db"
	"github.com/syndtr/goleveldb/leveldb/opt"

	goref "storemigrate.local/goref/common"
)

// openReadOnly opens any LevelDB directory read-only. cosmos-db names a database
// <dir>/<name>.db, so a link with that shape points at the real directory.
func openReadOnly(path string) (dbm.DB, func(), error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, nil, err
	}
	tmp, err := os.MkdirTemp("", "goref-")
	if err != nil {
		return nil, nil, err
	}
	if err := os.Symlink(abs, filepath.Join(tmp, "db.db")); err != nil {
		os.RemoveAll(tmp)
		return nil, nil, err
	}
	db, err := dbm.NewGoLevelDBWithOpts("db", tmp, &opt.Options{ReadOnly: true, ErrorIfMissing: true})
	if err != nil {
		os.RemoveAll(tmp)
		return nil, nil, err
	}
	return db, func() { db.Close(); os.RemoveAll(tmp) }, nil
}

// readSC opens store-migrate's v2 StateCommitment (commit infos under c/, one node-key tree
// per store under s/k:<name>/) with Go iavl v1 alone, and reports what Go reads: every
// version's roots, and every key and value at the latest version.
func readSC(args []string) error {
	fs := flag.NewFlagSet("read-sc", flag.ExitOnError)
	dir := fs.String("db", "", "store-migrate's v2 directory")
	out := fs.String("out", "-", "where to write the report")
	fs.Parse(args)
	if *dir == "" {
		return fmt.Errorf("--db is required")
	}
	db, done, err := openReadOnly(*dir)
	if err != nil {
		return err
	}
	defer done()
	latest, err := latestOf(db, "c/", *dir)
	if err != nil {
		return err
	}
	rep := &goref.Report{Era: "v050-sc", Modules: goref.ModuleVersions(), LatestVersion: latest, Digests: map[string]goref.Digest{}, Queryable: []int64{}}
	trees := map[string]*iavl.MutableTree{}
	for h := int64(1); h <= latest; h++ {
		ci, err := commitInfoAt(db, "c/", h)
		if err != nil {
			return err
		}
		if ci == nil {
			continue
		}
		hr := heightReport(h, ci)
		hr.Queryable = true
		for i := range hr.Stores {
			st := &hr.Stores[i]
			tree, ok := trees[st.Name]
			if !ok {
				tree = iavl.NewMutableTree(iavldb.NewWrapper(dbm.NewPrefixDB(db, []byte("s/k:"+st.Name+"/"))), 10000, true, log.NewNopLogger())
				if _, err := tree.LoadVersion(0); err != nil {
					return fmt.Errorf("store %s: %w", st.Name, err)
				}
				trees[st.Name] = tree
			}
			if !tree.VersionExists(h) {
				hr.Queryable = false
				continue
			}
			imm, err := tree.GetImmutable(h)
			if err != nil {
				return fmt.Errorf("store %s at %d: %w", st.Name, h, err)
			}
			st.Tree = true
			if got := fmt.Sprintf("%x", imm.Hash()); got != st.RootHash {
				return fmt.Errorf("store %s at %d: Go reads root %s, the commit info says %s", st.Name, h, got, st.RootHash)
			}
		}
		if hr.Queryable {
			rep.Queryable = append(rep.Queryable, h)
		}
		rep.Heights = append(rep.Heights, *hr)
	}
	for name, tree := range trees {
		imm, err := tree.GetImmutable(latest)
		if err != nil {
			return fmt.Errorf("store %s at %d: %w", name, latest, err)
		}
		d := goref.NewContentDigest()
		var prev []byte
		var iterErr error
		_, iterErr = imm.Iterate(func(key, value []byte) bool {
			if prev != nil && bytes.Compare(prev, key) >= 0 {
				iterErr = fmt.Errorf("store %s: keys out of order", name)
				return true
			}
			prev = append(prev[:0], key...)
			d.Add(key, value)
			return false
		})
		if iterErr != nil {
			return iterErr
		}
		rep.Digests[name] = d.Result()
	}
	return goref.WriteJSON(*out, rep)
}

// latestOf reads `<meta>latest` (s/ for rootmulti, c/ for store-migrate's StateCommitment).
func latestOf(db dbm.DB, meta, path string) (int64, error) {
	bz, err := db.Get([]byte(meta + "latest"))
	if err != nil || bz == nil {
		return 0, fmt.Errorf("%s has no %slatest: not a store with %s commit records (%v)", path, meta, meta, err)
	}
	return decodeInt64Value(bz)
}

// decodeInt64Value reads a google.protobuf.Int64Value (field 1, varint).
func decodeInt64Value(bz []byte) (int64, error) {
	if len(bz) == 0 {
		return 0, nil
	}
	if bz[0] != 0x08 {
		return 0, fmt.Errorf("c/latest is not an Int64Value: %x", bz)
	}
	var v uint64
	for i, shift := 1, uint(0); i < len(bz); i, shift = i+1, shift+7 {
		v |= uint64(bz[i]&0x7f) << shift
		if bz[i] < 0x80 {
			return int64(v), nil
		}
	}
	return 0, fmt.Errorf("c/latest is truncated: %x", bz)
}
