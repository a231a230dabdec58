// Shared by the node repair tests: the plan made on a copy of a fixture, its writes applied to that copy in
// plan order (each write's old bytes checked first, as the journal does), what our check and the real
// bcachefs then say, and the keys listed against the clean base image of the fixture.
import { expect } from 'vitest';
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { openDevice } from '../../src-core/device/index.js';
import { openFilesystem } from '../../src-core/open.js';
import { forEachKey } from '../../src-core/btree/fs.js';
import { bposToText } from '../../src-core/format/bpos.js';
import { checkFilesystem, type CheckResult } from '../../src-core/check/index.js';
import { planRepair, type RepairPlan } from '../../src-core/repair/pipeline.js';
import { readFixtureText } from '../helpers/fixtures.js';

const BASE_FIXTURE: Record<string, string> = {
  B1: 'clean-default-64m', B2: 'clean-32k-depth2', B3: 'clean-default-128m-depth2', B4: 'clean-default-128m-depth2', B5: 'clean-64k-128m',
  B6: 'clean-32k-256m-alloc-depth2', B7: 'clean-32k-128m-dirents-depth3',
};

export async function planOn(img: string): Promise<RepairPlan> {
  const dev = openDevice(img);
  try {
    return await planRepair(dev);
  } finally {
    dev.close();
  }
}

/** Writes every fix of the plan to the image, in order, after checking that the disk holds each write's old bytes. */
export function applyPlan(img: string, plan: RepairPlan): void {
  const fd = openSync(img, 'r+');
  try {
    for (const fix of plan.fixes) {
      for (const w of fix.writes) {
        const now = Buffer.alloc(w.old.length);
        readSync(fd, now, 0, now.length, w.offset);
        expect(now.equals(Buffer.from(w.old)), `fix ${fix.id}: the disk holds the planned old bytes at ${w.offset}`).toBe(true);
        writeSync(fd, w.new, 0, w.new.length, w.offset);
      }
    }
  } finally {
    closeSync(fd);
  }
}

export async function checkImage(img: string): Promise<CheckResult> {
  const o = openFilesystem(img);
  try {
    return await checkFilesystem(o.fs);
  } finally {
    o.close();
  }
}

/** Positions of the base image's keys of one btree (bcachefs list of the clean base image named in CASE.md). */
export function baseKeys(fx: string, btree: string): string[] {
  const b = /Base image: `(B\d)\.img`/.exec(readFixtureText(fx, 'CASE.md')!)![1]!;
  return readFixtureText(BASE_FIXTURE[b]!, `list/${btree}.keys.txt`)!.split('\n').filter((l) => l.startsWith('u64s')).map((l) => / type \w+ (\S+) len /.exec(l)![1]!);
}

export function keysNow(img: string, btreeId: number): string[] {
  const o = openFilesystem(img);
  const out: string[] = [];
  try {
    forEachKey(o.fs, btreeId, (t, r) => out.push(bposToText(t.pos(r))));
  } finally {
    o.close();
  }
  return out;
}
