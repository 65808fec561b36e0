package goref

import (
	"fmt"
)

// rng is splitmix64: tiny, and the same sequence on every Go version, so a seed names a
// workload for good.
type rng struct{ s uint64 }

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func (r *rng) intn(n int) int { return int(r.next() % uint64(n)) }

func (r *rng) bytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.next())
	}
	return b
}

// WorkloadOptions shapes a seeded random workload.
type WorkloadOptions struct {
	Seed     uint64
	Stores   []string
	Versions int
	// Changes per version, spread over the stores.
	Changes int
	// StoresFrom maps a store to the first version that writes to it (an added store).
	StoresFrom map[string]int64
	// StoresUntil maps a store to the last version that writes to it (a deleted store).
	StoresUntil map[string]int64
}

// Workload makes changesets whose keys are the awkward ones: 0x00 and 0xff bytes, keys that
// are prefixes of other keys, updates, deletes of live keys, and deletes of absent keys.
func Workload(o WorkloadOptions) []Changeset {
	r := &rng{s: o.Seed}
	live := map[string][][]byte{}
	sets := make([]Changeset, 0, o.Versions)
	for v := int64(1); v <= int64(o.Versions); v++ {
		cs := Changeset{Version: v}
		var stores []string
		for _, s := range o.Stores {
			if from, ok := o.StoresFrom[s]; ok && v < from {
				continue
			}
			if until, ok := o.StoresUntil[s]; ok && v > until {
				continue
			}
			stores = append(stores, s)
		}
		for i := 0; i < o.Changes && len(stores) > 0; i++ {
			store := stores[r.intn(len(stores))]
			keys := live[store]
			switch roll := r.intn(100); {
			case roll < 15 && len(keys) > 0: // delete a live key
				j := r.intn(len(keys))
				cs.Changes = append(cs.Changes, Change{Store: store, Key: keys[j], Delete: true})
				keys[j] = keys[len(keys)-1]
				live[store] = keys[:len(keys)-1]
			case roll < 18: // delete a key that is not there
				cs.Changes = append(cs.Changes, Change{Store: store, Key: append([]byte{0xfe}, r.bytes(6)...), Delete: true})
			case roll < 40 && len(keys) > 0: // update a live key
				cs.Changes = append(cs.Changes, Change{Store: store, Key: keys[r.intn(len(keys))], Value: r.bytes(r.intn(40))})
			default: // a new key
				key := newKey(r, keys)
				cs.Changes = append(cs.Changes, Change{Store: store, Key: key, Value: r.bytes(1 + r.intn(64))})
				live[store] = append(keys, key)
			}
		}
		sets = append(sets, cs)
	}
	return sets
}

// newKey draws a key shape: plain, all 0x00, all 0xff, with embedded 0x00/0xff, or a live
// key extended (so that one key is a prefix of another).
func newKey(r *rng, live [][]byte) []byte {
	switch r.intn(8) {
	case 0:
		return append([]byte{0x00}, r.bytes(r.intn(4))...)
	case 1:
		return append([]byte{0xff, 0xff}, r.bytes(r.intn(4))...)
	case 2:
		k := r.bytes(2 + r.intn(6))
		k[r.intn(len(k))] = 0x00
		k[r.intn(len(k))] = 0xff
		return k
	case 3:
		if len(live) > 0 {
			base := live[r.intn(len(live))]
			return append(append([]byte{}, base...), r.bytes(1+r.intn(3))...)
		}
	case 4:
		return []byte(fmt.Sprintf("balances/%06d", r.intn(1_000_000)))
	}
	return r.bytes(1 + r.intn(32))
}
