// A filesystem that was not cleanly unmounted: its journal holds keys the btrees do not, and bcachefs's
// recovery replays them into the btrees before anything else (bch2_journal_replay). A fix written into a
// node before that replay can be undone by it: on unclean-b2 the real fsck -n never saw an in-place
// rewrite of an alloc key the journal also holds (tests/format/encode-rewrite.test.ts). Replaying the
// journal ourselves means inserting a thousand keys or more into leaves that may need splitting and then
// writing a clean section (roots, usage): not done yet. So repair is refused, with what to do instead.
import type { Filesystem } from '../btree/fs.js';

/** Why no repair may be planned on this filesystem, or undefined when it was cleanly unmounted. */
export function replayRefusal(fs: Filesystem): string | undefined {
  if (fs.rootsFrom === 'clean') return undefined;
  const jk = fs.journalKeys;
  return (
    `the filesystem was not cleanly unmounted: its journal holds ${jk.table.n} keys that bcachefs replays into the ` +
    'btrees when it mounts, and a replay would overwrite fixes written before it. No repair is planned: on a copy, let bcachefs replay the ' +
    'journal (mount and unmount it, or run its fsck -y) so that it is unmounted cleanly, then plan the repair of that copy'
  );
}
