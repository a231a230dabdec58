// The small images of tests/fsck/fixtures (made by its make.sh with the real bcachefs-tools a76f36fc6).
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const DIR = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');

export function localFixture(name: string): string {
  return join(DIR, `${name}.img.gz`);
}

/** What the real fsck -n printed for a local image. */
export function localFsckN(name: string): string {
  return readFileSync(join(DIR, `${name}.fsck-n.txt`), 'latin1');
}
