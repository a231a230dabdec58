// One orchestration, identical findings in every front end: `bcachefs-repair check --json` and the service
// (as a process, as the UI uses it) report the same findings, field for field, on every fixture; and both
// name the device in fsck_message as bcachefs does. Both run where bcachefs was run when the fixtures were
// recorded (the fixture's folder, the image given as image.img), so fsck_message must equal the golden
// findings (tests/golden/findings-2021.json: the checker's output before the restructuring) exactly.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { FIXTURES, PROJECT_ROOT, allFixtures } from '../helpers/fixtures.js';
import { ServiceProcess } from './helpers.js';
import type { Finding } from '../../src-core/service/protocol.js';

interface GoldenFinding { class: string; severity: string; stage: string; fsck_message: string | null; fsck_disposition: string | null; log_message: string | null }
const golden = JSON.parse(readFileSync(join(PROJECT_ROOT, 'tests', 'golden', 'findings-2021.json'), 'utf8')) as Record<string, GoldenFinding[]>;
const essentials = (f: Finding | GoldenFinding): GoldenFinding => ({
  class: f.class, severity: f.severity, stage: f.stage, fsck_message: f.fsck_message, fsck_disposition: f.fsck_disposition, log_message: f.log_message ?? null,
});

function cliCheck(cwd: string): Promise<{ status: number | null; json: { findings: Finding[]; device: { path: string } } }> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [join(PROJECT_ROOT, 'bin', 'bcachefs-repair'), 'check', 'image.img.gz', '--json'], { cwd });
    const out: Buffer[] = [];
    c.stdout.on('data', (b: Buffer) => out.push(b));
    c.on('error', reject);
    c.on('exit', (status) => {
      try {
        resolve({ status, json: JSON.parse(Buffer.concat(out).toString('utf8')) });
      } catch (e) {
        reject(e);
      }
    });
  });
}

const services: ServiceProcess[] = [];
afterAll(() => services.forEach((s) => s.child.kill()));

describe.each(allFixtures())('%s', (fx) => {
  it('CLI check --json and the service report the same findings, fsck_message as bcachefs prints it', async () => {
    const cwd = join(FIXTURES, fx);
    const cli = cliCheck(cwd);
    const s = new ServiceProcess(cwd);
    services.push(s);
    await s.call('open', { path: 'image.img.gz' });
    const { checkId } = await s.call('check.start');
    await s.wait((m) => 'event' in m && m.event === 'check.done' && (m.data as { checkId: number }).checkId === checkId);
    const viaService = await s.call('findings');
    expect(await s.end()).toBe(0);
    const viaCli = await cli;
    expect(viaService.status).toBe('completed');
    expect(viaCli.json.device.path).toBe('image.img.gz');
    expect(viaCli.status).toBe(viaService.findings.some((f) => f.severity !== 'info') ? 4 : 0);
    expect(viaCli.json.findings).toEqual(viaService.findings);
    expect(viaService.findings.map(essentials)).toEqual(golden[`bcachefs-2021/${fx}`]!.map(essentials));
  }, 60_000);
});
