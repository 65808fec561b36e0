package goref

import "time"

// Pruning is a pruning strategy in the terms each era understands; an era uses the fields it
// has (KeepEvery exists only up to v0.45).
type Pruning struct {
	KeepRecent uint64
	KeepEvery  uint64
	Interval   uint64
}

// Upgrades is a cosmos-sdk StoreUpgrades applied on the load before Height commits.
type Upgrades struct {
	Height  int64
	Added   []string
	Deleted []string
	// Renamed pairs an old name with its new one.
	Renamed [][2]string
}

// OpenOptions says how to open a database: which IAVL stores to mount, and with what.
type OpenOptions struct {
	Stores   []string
	Pruning  Pruning
	Upgrades *Upgrades
	// NoFastNodes turns the fast node index off (on by default from v0.47).
	NoFastNodes bool
}

// Store is one era's rootmulti store, used as a node uses it.
type Store interface {
	// Latest is the last committed height (0 for a new database).
	Latest() int64
	// Commit applies the changes through the stores' KVStores and commits the next height,
	// with blockTime as the block header's time where the era records it.
	Commit(cs *Changeset, blockTime time.Time) error
	// Height reads the CommitInfo Go wrote at h, with the app hash Go computes from it.
	// Tree is left false; Report fills it in from TreeRoot.
	Height(h int64) (*HeightReport, error)
	// TreeRoot is the root hash of the named store's tree at h, as Go reads it, and whether
	// the tree is there at all.
	TreeRoot(name string, h int64) ([]byte, bool, error)
	// Iterate visits the named store's pairs at height h, in key order.
	Iterate(name string, h int64, fn func(key, value []byte)) error
	Close() error
}

// Era opens stores the way one cosmos-sdk release does.
type Era interface {
	Name() string
	// Open opens (creating if needed) a database directory; with no Stores it mounts the
	// stores of the latest CommitInfo.
	Open(dir string, o OpenOptions) (Store, error)
	// StoreNames lists the stores of the latest CommitInfo in a database, without opening a
	// multistore (to decide what to mount).
	StoreNames(dir string) ([]string, error)
}

// Commands are extra subcommands an era binary offers (bench, read --sc).
type Commands map[string]func(args []string) error

// BlockTime is the header time of height h: fixed, so a fixture is the same on every run.
func BlockTime(h int64) time.Time {
	return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(h) * 5 * time.Second)
}
