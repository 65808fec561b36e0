import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FaultRule, type OpInfo, touches } from '../helpers/faulty-level.js';
import {
  BASE,
  buildTemplate,
  expectDbIo,
  NodeHarness,
  rejectionOf,
  removeTemplate,
  waitFor,
} from './node-harness.js';

/**
 * Fault injection on every write path of a node that migrates in the background: the v1
 * commit, the restore of StateCommitment and StateStorage, the changeset buffer, sync, the
 * switch, and v2-mode commits. For each: the failing operation stops with ERR_DB_IO wrapping
 * the injected error; the node keeps committing on v1 where that applies; nothing switches
 * unless the switch completed; a restart without the fault reaches the switch; and every
 * height keeps the app hash of a v1-only reference node fed the same blocks.
 */

let template: string;
beforeAll(async () => {
  template = await buildTemplate();
});
afterAll(() => removeTemplate(template));

/** Which write-batch path the node's databases take: set by the describe.each below. */
let nativeBatch = true;

async function withNode(fn: (h: NodeHarness) => Promise<void>): Promise<void> {
  const h = await NodeHarness.create(template, { nativeBatch });
  try {
    await fn(h);
  } finally {
    await h.dispose();
  }
}

const batchTouching =
  (prefix: string) =>
  (i: OpInfo): boolean =>
    i.method === 'batch' && touches(prefix)(i);
const putOf =
  (prefix: string) =>
  (i: OpInfo): boolean =>
    i.method === 'put' && touches(prefix)(i);

/** After a failed migration: more blocks on v1, never a switch, then a clean restart switches. */
async function keepsOnV1ThenRestartSwitches(h: NodeHarness): Promise<void> {
  expect(h.rs.status().phase).toBe('failed');
  expect(h.rs.isMigrating).toBe(false);
  await h.commits(3);
  await h.expectNotSwitched();
  h.rs.releaseSwitch();
  await h.commit();
  await h.expectNotSwitched();
  await h.restart();
  await h.untilSwitched();
  await h.expectContinuity();
}

// Every suite on both write paths: classic-level's native chained batch (what production
// takes) and abstract-level's public batch().
describe.each([
  ['native', true],
  ['public', false],
] as const)('on the %s write-batch path', (_path, native) => {
  beforeAll(() => {
    nativeBatch = native;
  });

  describe('faults on the v1 database', () => {
    it('a failed v1 commit batch while migrating rejects that commit only; the migration goes on and switches', () =>
      withNode(async (h) => {
        await h.start({ postponeSwitch: true });
        await h.commits(2);
        const once = h.fv1.failWrite({ kind: 'ENOSPC', match: batchTouching('s/latest') });
        expectDbIo(await h.commitFails());
        expect(once.fired).toBe(1);
        expect(h.rs.status().error).toBeUndefined();
        expect(h.rs.isMigrating).toBe(true);
        await h.commits(2);
        // A disk that stays full for a while: every commit fails whole, none half-done.
        const full = h.fv1.failWrite({ times: Number.POSITIVE_INFINITY, match: batchTouching('s/latest') });
        for (let i = 0; i < 3; i++) expectDbIo(await h.commitFails());
        full.remove();
        await h.commits(2);
        await waitFor(() => h.rs.migratedVersion === h.rs.latestVersion);
        await h.expectNotSwitched();
        h.rs.releaseSwitch();
        await h.untilSwitched();
        await h.expectContinuity();
        await h.restart();
        expect(h.rs.switchedAtVersion).toBeDefined();
        await h.commits(2);
        await h.expectContinuity();
      }));

    it('a failed v1 commit with no migration running (and after a failed one) rejects that commit only', () =>
      withNode(async (h) => {
        await h.start({ migrate: false });
        await h.commit();
        h.fv1.failWrite({ kind: 'EIO', match: batchTouching('s/latest') });
        expectDbIo(await h.commitFails());
        await h.commit();
        // Now a migration that fails (its buffer write), then a v1 fault in the 'failed' mode.
        h.fv2.failWrite({ match: putOf('m/cs_') });
        h.rs.startMigration();
        await h.commit();
        expectDbIo(await h.waitFailed());
        h.fv1.failWrite({ match: batchTouching('s/latest') });
        expectDbIo(await h.commitFails());
        await keepsOnV1ThenRestartSwitches(h);
      }));

    it('a failed v1 read during the export fails the migration, not the node', () =>
      withNode(async (h) => {
        // The export reads subtrees with getMany (exportChunks); the node's own commits use getSync.
        const f = h.fv1.failRead({ nth: 3, match: (i) => i.method === 'getMany' && touches('s/k:')(i) });
        await h.start({ postponeSwitch: true });
        expectDbIo(await h.waitFailed());
        expect(f.fired).toBe(1);
        await keepsOnV1ThenRestartSwitches(h);
      }));
  });

  describe('faults on the v2 database while migrating', () => {
    const restorePaths: Array<[string, FaultRule['match'], number]> = [
      ['the source fingerprint (m/source)', putOf('m/source'), 1],
      ['the migration height (m/height)', putOf('m/height'), 1],
      ['the StateCommitment restore checkpoint (c/restore)', putOf('c/restore'), 1],
      ['a StateCommitment restore node batch', batchTouching('s/k:'), 2],
      ['the StateCommitment restore commit batch', batchTouching('c/latest'), 1],
      ['a StateStorage restore batch', batchTouching('ss/'), 2],
      ['the restored-version record (m/migrated)', putOf('m/migrated'), 1],
    ];
    for (const [what, match, nth] of restorePaths) {
      it(`restore: ${what} fails → ERR_DB_IO, the node stays on v1, a restart switches`, () =>
        withNode(async (h) => {
          const f = h.fv2.failWrite({ nth, match, kind: 'ENOSPC' });
          await h.start({ postponeSwitch: true });
          await h.commit();
          expectDbIo(await h.waitFailed());
          expect(f.fired).toBe(1);
          await keepsOnV1ThenRestartSwitches(h);
        }));
    }

    it('the changeset buffer write fails → the migration fails, the block still commits on v1', () =>
      withNode(async (h) => {
        await h.start({ postponeSwitch: true });
        const f = h.fv2.failWrite({ match: putOf('m/cs_') });
        await h.commit();
        expect(f.fired).toBe(1);
        expectDbIo(await h.waitFailed());
        await keepsOnV1ThenRestartSwitches(h);
      }));

    const syncPaths: Array<[string, FaultRule['match']]> = [
      ['the StateCommitment commit batch', batchTouching('c/latest')],
      ['the StateStorage apply batch', batchTouching('ss/')],
      ['the migrated-version record (m/migrated)', putOf('m/migrated')],
    ];
    for (const [what, match] of syncPaths) {
      it(`sync: ${what} fails → ERR_DB_IO, the node stays on v1, a restart switches`, () =>
        withNode(async (h) => {
          await h.start({ postponeSwitch: true });
          await waitFor(() => h.rs.migratedVersion === BASE, 10_000, 'the restore');
          h.rs.pause();
          await h.commits(2);
          const f = h.fv2.failWrite({ match });
          h.rs.resume();
          expectDbIo(await h.waitFailed());
          expect(f.fired).toBe(1);
          await keepsOnV1ThenRestartSwitches(h);
        }));
    }

    it('sync: the whole v2 disk fills up (every write fails, the failure record too) → a restart starts over', () =>
      withNode(async (h) => {
        await h.start({ postponeSwitch: true });
        await waitFor(() => h.rs.migratedVersion === BASE, 10_000, 'the restore');
        h.rs.pause();
        await h.commits(2);
        h.fv2.failWrite({ times: Number.POSITIVE_INFINITY, kind: 'ENOSPC' });
        h.rs.resume();
        expectDbIo(await h.waitFailed());
        await h.commits(3);
        await h.expectNotSwitched();
        h.fv2.heal();
        await h.restart();
        await h.untilSwitched();
        await h.expectContinuity();
      }));

    it('starting over: wiping the failed v2 state fails → open rejects with ERR_DB_IO; a retry starts over and switches', () =>
      withNode(async (h) => {
        await h.start({ postponeSwitch: true });
        h.fv2.failWrite({ match: putOf('m/cs_') });
        await h.commit();
        expectDbIo(await h.waitFailed());
        await h.commits(2);
        await h.reopen(true);
        // The wipe deletes in batches; the first one fails.
        h.fv2.failWrite({ match: (i) => i.method === 'batch' });
        expectDbIo(await rejectionOf(h.start()));
        h.fv2.heal();
        await h.start();
        await h.untilSwitched();
        await h.expectContinuity();
      }));

    it('a failed v2 read in sync (the buffered changeset) fails the migration, not the node', () =>
      withNode(async (h) => {
        await h.start({ postponeSwitch: true });
        await waitFor(() => h.rs.migratedVersion === BASE, 10_000, 'the restore');
        h.rs.pause();
        await h.commits(2);
        h.fv2.failRead({ match: (i) => i.method === 'get' && touches('m/cs_')(i) });
        h.rs.resume();
        expectDbIo(await h.waitFailed());
        await keepsOnV1ThenRestartSwitches(h);
      }));

    it('slow disks (delayed reads and writes on both databases) still migrate and switch', () =>
      withNode(async (h) => {
        h.fv1.setDelays({ writes: 2 });
        h.fv2.setDelays({ writes: 2, reads: 1 });
        await h.start();
        await h.untilSwitched();
        await h.commits(2);
        await h.expectContinuity();
      }));
  });

  describe('faults at the switch', () => {
    it('the switch record (m/switched) fails once → nothing switches, the block commits on v1, a restart switches', () =>
      withNode(async (h) => {
        await h.start({ postponeSwitch: true });
        await h.commits(2);
        await waitFor(() => h.rs.migratedVersion === h.rs.latestVersion, 10_000, 'sync');
        const f = h.fv2.failWrite({ match: putOf('m/switched') });
        h.rs.releaseSwitch();
        await h.commit();
        expect(f.fired).toBe(1);
        expectDbIo(await h.waitFailed());
        await keepsOnV1ThenRestartSwitches(h);
      }));

    it('the switch record keeps failing → the node keeps committing on v1 (not wedged)', () =>
      withNode(async (h) => {
        await h.start({ postponeSwitch: true });
        await waitFor(() => h.rs.migratedVersion === BASE, 10_000, 'the restore');
        h.fv2.failWrite({ times: Number.POSITIVE_INFINITY, match: putOf('m/switched') });
        h.rs.releaseSwitch();
        await h.commits(4);
        await h.expectNotSwitched();
        h.fv2.heal();
        await h.restart();
        await h.untilSwitched();
        await h.expectContinuity();
      }));

    it('the buffer cleanup right after a durable switch fails → the switch still stands and is reported', () =>
      withNode(async (h) => {
        await h.start({ postponeSwitch: true });
        await h.commits(2);
        await waitFor(() => h.rs.migratedVersion === h.rs.latestVersion, 10_000, 'sync');
        const f = h.fv2.failWrite({ match: batchTouching('m/cs_') });
        h.rs.releaseSwitch();
        await h.commit();
        expect(f.fired).toBe(1);
        expect(h.rs.switchedAtVersion).toBe(BASE + 2);
        expect(h.events.some((e) => e.type === 'switched')).toBe(true);
        expect(await h.switchedRecord()).toBeDefined();
        await h.commits(2);
        await h.restart();
        expect(h.rs.switchedAtVersion).toBe(BASE + 2);
        await h.commits(2);
        await h.expectContinuity();
      }));
  });

  describe('faults on v2-mode commits after the switch', () => {
    const paths: Array<[string, FaultRule['match']]> = [
      ['the write-ahead changeset (m/cs_)', putOf('m/cs_')],
      ['the StateCommitment commit batch', batchTouching('c/latest')],
      ['the StateStorage apply batch', batchTouching('ss/')],
      ['the buffer cleanup after the commit', batchTouching('m/cs_')],
    ];
    for (const [what, match] of paths) {
      it(`${what} fails → that commit rejects with ERR_DB_IO, the next commits work, a restart recovers`, () =>
        withNode(async (h) => {
          await h.start();
          await h.untilSwitched();
          await h.commits(2);
          const f = h.fv2.failWrite({ match, kind: 'EIO' });
          expectDbIo(await h.commitFails());
          expect(f.fired).toBe(1);
          // In-process: the node goes on from the version the store reports (as a restarted node would).
          await h.commits(3);
          await h.expectContinuity();
          // Fail again, then restart right away: the write-ahead log brings StateStorage up to StateCommitment.
          h.fv2.failWrite({ match, kind: 'EIO' });
          expectDbIo(await h.commitFails());
          await h.restart();
          expect(h.rs.ss.latestVersion).toBe(h.rs.sc.latestVersion);
          await h.commits(2);
          await h.expectContinuity();
        }));
    }
  });
});
