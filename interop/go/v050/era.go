// goref-v050: the goref command on cosmossdk.io/store v1.1 with iavl v1.2 (cosmos-sdk v0.50
// and v0.53, the node-key layout).
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"cosmossdk.io/log"
	"cosmossdk.io/store/iavl"
	"cosmossdk.io/store/metrics"
	pruningtypes "cosmossdk.io/store/pruning/types"
	"cosmossdk.io/store/rootmulti"
	storetypes "cosmossdk.io/store/types"
	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"
	dbm "github.com/cosmos/cosmos-db"
	"github.com/cosmos/gogoproto/proto"

	iavltree "github.com/cosmos/iavl"
	iavldb "github.com/cosmos/iavl/db"

	goref "storemigrate.local/goref/common"
)

// Apps mount a memory and a transient store; from v0.47 on they stay out of CommitInfo.
const (
	memStore       = "mem_capability"
	transientStore = "transient_params"
)

type era struct{}

func (era) Name() string { return "v050" }

type store struct {
	db   dbm.DB
	rs   *rootmulti.Store
	keys map[string]*storetypes.KVStoreKey
}

// openDB opens dir as a node does: cosmos-db's goleveldb, named application in its parent.
func openDB(dir string) (dbm.DB, error) {
	dir = strings.TrimSuffix(dir, "/")
	if filepath.Base(dir) != "application.db" {
		return nil, fmt.Errorf("%s: a node's store v1 is a directory named application.db", dir)
	}
	return dbm.NewGoLevelDB("application", filepath.Dir(dir), nil)
}

func (era) StoreNames(dir string) ([]string, error) {
	if _, err := os.Stat(dir); os.IsNotExist(err) {
		return nil, nil
	}
	db, err := openDB(dir)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	return storeNames(db)
}

func storeNames(db dbm.DB) ([]string, error) {
	latest := rootmulti.GetLatestVersion(db)
	if latest == 0 {
		return nil, nil
	}
	ci, err := readCommitInfo(db, latest)
	if err != nil || ci == nil {
		return nil, err
	}
	var names []string
	for _, si := range ci.StoreInfos {
		if si.CommitId.Version != 0 || len(si.CommitId.Hash) != 0 {
			names = append(names, si.Name)
		}
	}
	return names, nil
}

func readCommitInfo(db dbm.DB, h int64) (*storetypes.CommitInfo, error) {
	return commitInfoAt(db, "s/", h)
}

// commitInfoAt reads the CommitInfo at `<meta><h>` (s/ for rootmulti, c/ for store-migrate's
// StateCommitment); nil when there is none.
func commitInfoAt(db dbm.DB, meta string, h int64) (*storetypes.CommitInfo, error) {
	bz, err := db.Get([]byte(fmt.Sprintf("%s%d", meta, h)))
	if err != nil || bz == nil {
		return nil, err
	}
	ci := &storetypes.CommitInfo{}
	if err := proto.Unmarshal(bz, ci); err != nil {
		return nil, fmt.Errorf("CommitInfo at %s%d: %w", meta, h, err)
	}
	return ci, nil
}

func (era) Open(dir string, o goref.OpenOptions) (goref.Store, error) {
	if err := os.MkdirAll(filepath.Dir(strings.TrimSuffix(dir, "/")), 0o755); err != nil {
		return nil, err
	}
	db, err := openDB(dir)
	if err != nil {
		return nil, err
	}
	if o.Stores == nil {
		if o.Stores, err = storeNames(db); err != nil {
			db.Close()
			return nil, err
		}
	}
	rs := rootmulti.NewStore(db, log.NewNopLogger(), metrics.NewNoOpMetrics())
	rs.SetPruning(pruningtypes.NewCustomPruningOptions(o.Pruning.KeepRecent, o.Pruning.Interval))
	rs.SetIAVLSyncPruning(true)
	rs.SetIAVLDisableFastNode(o.NoFastNodes)
	s := &store{db: db, rs: rs, keys: map[string]*storetypes.KVStoreKey{}}
	for _, name := range o.Stores {
		s.keys[name] = storetypes.NewKVStoreKey(name)
		rs.MountStoreWithDB(s.keys[name], storetypes.StoreTypeIAVL, nil)
	}
	if o.Upgrades != nil {
		for _, name := range o.Upgrades.Deleted {
			if _, ok := s.keys[name]; !ok {
				s.keys[name] = storetypes.NewKVStoreKey(name)
				rs.MountStoreWithDB(s.keys[name], storetypes.StoreTypeIAVL, nil)
			}
		}
	}
	rs.MountStoreWithDB(storetypes.NewMemoryStoreKey(memStore), storetypes.StoreTypeMemory, nil)
	rs.MountStoreWithDB(storetypes.NewTransientStoreKey(transientStore), storetypes.StoreTypeTransient, nil)
	if o.Upgrades != nil {
		up := &storetypes.StoreUpgrades{Added: o.Upgrades.Added, Deleted: o.Upgrades.Deleted}
		for _, r := range o.Upgrades.Renamed {
			up.Renamed = append(up.Renamed, storetypes.StoreRename{OldKey: r[0], NewKey: r[1]})
		}
		err = rs.LoadLatestVersionAndUpgrade(up)
	} else {
		err = rs.LoadLatestVersion()
	}
	if err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func (s *store) Latest() int64 { return s.rs.LastCommitID().Version }

func (s *store) Commit(cs *goref.Changeset, blockTime time.Time) error {
	for _, c := range cs.Changes {
		key, ok := s.keys[c.Store]
		if !ok {
			return fmt.Errorf("store %q is not mounted", c.Store)
		}
		kv := s.rs.GetKVStore(key)
		if c.Delete {
			kv.Delete(c.Key)
		} else {
			kv.Set(c.Key, c.Value)
		}
	}
	s.rs.SetCommitHeader(cmtproto.Header{Height: cs.Version, Time: blockTime})
	id := s.rs.Commit()
	if id.Version != cs.Version {
		return fmt.Errorf("committed height %d, expected %d", id.Version, cs.Version)
	}
	return nil
}

func (s *store) Height(h int64) (*goref.HeightReport, error) {
	ci, err := readCommitInfo(s.db, h)
	if err != nil || ci == nil {
		return nil, err
	}
	return heightReport(h, ci), nil
}

func heightReport(h int64, ci *storetypes.CommitInfo) *goref.HeightReport {
	hr := &goref.HeightReport{Height: h, AppHash: fmt.Sprintf("%x", ci.Hash()), Stores: []goref.StoreReport{}}
	if !ci.Timestamp.IsZero() {
		hr.Timestamp = ci.Timestamp.UTC().Format(time.RFC3339Nano)
	}
	for _, si := range ci.StoreInfos {
		hr.Stores = append(hr.Stores, goref.StoreReport{Name: si.Name, Version: si.CommitId.Version, RootHash: fmt.Sprintf("%x", si.CommitId.Hash)})
	}
	return hr
}

func (s *store) tree(name string) (*iavl.Store, error) {
	key, ok := s.keys[name]
	if !ok {
		return nil, fmt.Errorf("store %q is not mounted", name)
	}
	t, ok := s.rs.GetCommitKVStore(key).(*iavl.Store)
	if !ok {
		return nil, fmt.Errorf("store %q is not an IAVL store", name)
	}
	return t, nil
}

func (s *store) TreeRoot(name string, h int64) ([]byte, bool, error) {
	if _, mounted := s.keys[name]; !mounted || s.rs.GetCommitKVStore(s.keys[name]) == nil {
		// A store an upgrade deleted or renamed away is no longer mounted, but its trees of
		// the heights before stay on disk: read them with iavl directly.
		return unmountedRoot(s.db, name, h)
	}
	t, err := s.tree(name)
	if err != nil {
		return nil, false, err
	}
	if !t.VersionExists(h) {
		return nil, false, nil
	}
	imm, err := t.GetImmutable(h)
	if err != nil {
		return nil, false, err
	}
	return imm.LastCommitID().Hash, true, nil
}

func unmountedTree(db dbm.DB, name string) *iavltree.MutableTree {
	return iavltree.NewMutableTree(iavldb.NewWrapper(dbm.NewPrefixDB(db, []byte("s/k:"+name+"/"))), 1000, true, log.NewNopLogger())
}

func unmountedRoot(db dbm.DB, name string, h int64) ([]byte, bool, error) {
	tree := unmountedTree(db, name)
	if !tree.VersionExists(h) {
		return nil, false, nil
	}
	imm, err := tree.GetImmutable(h)
	if err != nil {
		return nil, false, err
	}
	return imm.Hash(), true, nil
}

func unmountedIterate(db dbm.DB, name string, h int64, fn func(key, value []byte)) error {
	imm, err := unmountedTree(db, name).GetImmutable(h)
	if err != nil {
		return err
	}
	_, err = imm.Iterate(func(key, value []byte) bool {
		fn(key, value)
		return false
	})
	return err
}

func (s *store) Iterate(name string, h int64, fn func(key, value []byte)) error {
	if _, mounted := s.keys[name]; !mounted || s.rs.GetCommitKVStore(s.keys[name]) == nil {
		return unmountedIterate(s.db, name, h, fn)
	}
	t, err := s.tree(name)
	if err != nil {
		return err
	}
	imm, err := t.GetImmutable(h)
	if err != nil {
		return err
	}
	it := imm.Iterator(nil, nil)
	defer it.Close()
	for ; it.Valid(); it.Next() {
		fn(it.Key(), it.Value())
	}
	return it.Error()
}

func (s *store) Close() error { return s.db.Close() }

func main() {
	goref.Main(era{}, goref.Commands{"read-sc": readSC, "bench": bench})
}
