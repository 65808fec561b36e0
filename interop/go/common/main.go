package goref

import (
	"bytes"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
)

// Main runs the goref command for one era and exits.
func Main(era Era, extra Commands) {
	if len(os.Args) < 2 {
		usage(era, extra)
	}
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "apply":
		err = runApply(era, args)
	case "read":
		err = runRead(era, args)
	case "workload":
		err = runWorkload(args)
	case "modules":
		err = WriteJSON("-", ModuleVersions())
	default:
		run, ok := extra[cmd]
		if !ok {
			usage(era, extra)
		}
		err = run(args)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "goref-%s %s: %v\n", era.Name(), os.Args[1], err)
		os.Exit(1)
	}
}

func usage(era Era, extra Commands) {
	cmds := []string{"apply", "read", "workload", "modules"}
	for name := range extra {
		cmds = append(cmds, name)
	}
	fmt.Fprintf(os.Stderr, "usage: goref-%s %s [flags]\n", era.Name(), strings.Join(cmds, "|"))
	os.Exit(2)
}

func list(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func runApply(era Era, args []string) error {
	fs := flag.NewFlagSet("apply", flag.ExitOnError)
	db := fs.String("db", "", "database directory (application.db)")
	file := fs.String("changesets", "", "newline-delimited JSON changesets")
	until := fs.Int64("until", 0, "stop after this height (0: the whole file)")
	expected := fs.String("expected", "", "where to write the report (default DB/../expected.json; - for stdout)")
	keepRecent := fs.Uint64("keep-recent", 0, "pruning: heights kept (0 with interval 0: keep everything)")
	keepEvery := fs.Uint64("keep-every", 0, "pruning: also keep every Nth height (v045 only)")
	interval := fs.Uint64("interval", 0, "pruning: prune every N heights (0: never)")
	upHeight := fs.Int64("upgrade-height", 0, "apply StoreUpgrades on the load before this height")
	added := fs.String("added", "", "stores the upgrade adds (comma-separated)")
	deleted := fs.String("deleted", "", "stores the upgrade deletes")
	renamed := fs.String("renamed", "", "old:new pairs the upgrade renames")
	noFast := fs.Bool("no-fast-nodes", false, "turn the fast node index off")
	fs.Parse(args)
	if *db == "" || *file == "" {
		return fmt.Errorf("--db and --changesets are required")
	}
	sets, err := ReadChangesets(*file)
	if err != nil {
		return err
	}
	if *until > 0 && *until < int64(len(sets)) {
		sets = sets[:*until]
	}
	opts := OpenOptions{
		Pruning:     Pruning{KeepRecent: *keepRecent, KeepEvery: *keepEvery, Interval: *interval},
		NoFastNodes: *noFast,
	}
	var up *Upgrades
	if *upHeight > 0 {
		up = &Upgrades{Height: *upHeight, Added: list(*added), Deleted: list(*deleted)}
		for _, pair := range list(*renamed) {
			old, nw, ok := strings.Cut(pair, ":")
			if !ok {
				return fmt.Errorf("--renamed wants old:new, not %q", pair)
			}
			up.Renamed = append(up.Renamed, [2]string{old, nw})
		}
	}
	st, err := openFor(era, *db, opts, sets, up)
	if err != nil {
		return err
	}
	for i := range sets {
		cs := &sets[i]
		if cs.Version <= st.Latest() {
			continue // already in the database (a continued fixture)
		}
		if cs.Version != st.Latest()+1 {
			st.Close()
			return fmt.Errorf("the database is at %d; the file's next version is %d", st.Latest(), cs.Version)
		}
		if up != nil && cs.Version == up.Height {
			// An upgrade is applied by the load that precedes its height, as a node restarts
			// into the new binary.
			if err := st.Close(); err != nil {
				return err
			}
			if st, err = openFor(era, *db, opts, sets, up); err != nil {
				return err
			}
		}
		if err := st.Commit(cs, BlockTime(cs.Version)); err != nil {
			st.Close()
			return fmt.Errorf("height %d: %w", cs.Version, err)
		}
	}
	rep, err := BuildReport(era, st)
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	rep.Options = map[string]any{"keepRecent": *keepRecent, "keepEvery": *keepEvery, "interval": *interval}
	if up != nil {
		rep.Options["upgrade"] = up
	}
	out := *expected
	if out == "" {
		out = strings.TrimSuffix(strings.TrimSuffix(*db, "/"), "application.db") + "expected.json"
	}
	return WriteJSON(out, rep)
}

// openFor opens a database with the stores it already has plus those the changesets name,
// as the upgrade (if this load is the one before its height) changes them.
func openFor(era Era, dir string, o OpenOptions, sets []Changeset, up *Upgrades) (Store, error) {
	names, err := era.StoreNames(dir)
	if err != nil {
		return nil, err
	}
	latest := int64(0)
	if len(names) > 0 {
		st, err := era.Open(dir, OpenOptions{Stores: names, Pruning: o.Pruning, NoFastNodes: o.NoFastNodes})
		if err != nil {
			return nil, err
		}
		latest = st.Latest()
		if err := st.Close(); err != nil {
			return nil, err
		}
	}
	o.Upgrades = nil
	if up != nil && latest+1 == up.Height {
		o.Upgrades = up
		names = append(names, up.Added...)
		for _, r := range up.Renamed {
			names = slices.DeleteFunc(names, func(n string) bool { return n == r[0] })
			names = append(names, r[1])
		}
	} else if len(names) == 0 {
		// A new database mounts what the changesets before any upgrade write.
		for _, cs := range sets {
			if up != nil && cs.Version >= up.Height {
				break
			}
			for _, c := range cs.Changes {
				if !slices.Contains(names, c.Store) {
					names = append(names, c.Store)
				}
			}
		}
	}
	slices.Sort(names)
	o.Stores = slices.Compact(names)
	return era.Open(dir, o)
}

// BuildReport reads every height's CommitInfo and tree roots, and the content digests at
// the latest height. A tree whose root differs from its CommitInfo is an error: Go itself
// would not agree with itself.
func BuildReport(era Era, st Store) (*Report, error) {
	rep := &Report{Era: era.Name(), Modules: ModuleVersions(), LatestVersion: st.Latest(), Digests: map[string]Digest{}, Queryable: []int64{}}
	for h := int64(1); h <= st.Latest(); h++ {
		hr, err := st.Height(h)
		if err != nil {
			return nil, err
		}
		if hr == nil {
			continue // no CommitInfo at h (a database that started above 1)
		}
		hr.Queryable = true
		for i := range hr.Stores {
			s := &hr.Stores[i]
			if s.Version == 0 && s.RootHash == "" {
				continue // a memory store: no tree
			}
			root, ok, err := st.TreeRoot(s.Name, h)
			if err != nil {
				return nil, fmt.Errorf("height %d store %s: %w", h, s.Name, err)
			}
			s.Tree = ok
			if !ok {
				hr.Queryable = false
				continue
			}
			if want, _ := hex.DecodeString(s.RootHash); !bytes.Equal(root, want) {
				return nil, fmt.Errorf("height %d store %s: tree root %x, CommitInfo %s", h, s.Name, root, s.RootHash)
			}
		}
		if hr.Queryable {
			rep.Queryable = append(rep.Queryable, h)
		}
		rep.Heights = append(rep.Heights, *hr)
	}
	rep.Contents = map[string]map[string]Digest{}
	for _, hr := range rep.Heights {
		if !hr.Queryable {
			continue
		}
		at := map[string]Digest{}
		for _, s := range hr.Stores {
			if s.Version == 0 && s.RootHash == "" {
				continue // a memory store: no tree
			}
			d := NewContentDigest()
			if err := st.Iterate(s.Name, hr.Height, d.Add); err != nil {
				return nil, fmt.Errorf("height %d store %s: %w", hr.Height, s.Name, err)
			}
			at[s.Name] = d.Result()
		}
		rep.Contents[strconv.FormatInt(hr.Height, 10)] = at
		if hr.Height == st.Latest() {
			rep.Digests = at
		}
	}
	return rep, nil
}

func runRead(era Era, args []string) error {
	fs := flag.NewFlagSet("read", flag.ExitOnError)
	db := fs.String("db", "", "database directory")
	out := fs.String("out", "-", "where to write the report")
	fs.Parse(args)
	if *db == "" {
		return fmt.Errorf("--db is required")
	}
	if _, err := os.Stat(*db); err != nil {
		return err
	}
	st, err := era.Open(*db, OpenOptions{})
	if err != nil {
		return err
	}
	rep, err := BuildReport(era, st)
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return WriteJSON(*out, rep)
}

func runWorkload(args []string) error {
	fs := flag.NewFlagSet("workload", flag.ExitOnError)
	seed := fs.Uint64("seed", 1, "seed")
	stores := fs.String("stores", "acc,bank,staking", "store names")
	versions := fs.Int("versions", 50, "versions")
	changes := fs.Int("changes", 40, "changes per version")
	from := fs.String("stores-from", "", "store:height pairs: first version that writes the store")
	until := fs.String("stores-until", "", "store:height pairs: last version that writes the store")
	out := fs.String("out", "", "output file")
	fs.Parse(args)
	if *out == "" {
		return fmt.Errorf("--out is required")
	}
	parse := func(s string) (map[string]int64, error) {
		m := map[string]int64{}
		for _, p := range list(s) {
			name, h, ok := strings.Cut(p, ":")
			n, err := strconv.ParseInt(h, 10, 64)
			if !ok || err != nil {
				return nil, fmt.Errorf("want store:height, not %q", p)
			}
			m[name] = n
		}
		return m, nil
	}
	f, err := parse(*from)
	if err != nil {
		return err
	}
	u, err := parse(*until)
	if err != nil {
		return err
	}
	return WriteChangesets(*out, Workload(WorkloadOptions{Seed: *seed, Stores: list(*stores), Versions: *versions, Changes: *changes, StoresFrom: f, StoresUntil: u}))
}
