// The main process's check of every IPC message before it reaches the core (src-main/validate.ts).
import { describe, expect, it } from 'vitest';
import { METHODS, PARAM_NAMES } from '../../src-core/service/protocol.js';
import { MAX_PATH, PARAM_CHECKS, validateCall } from '../../src-main/validate.js';

describe('validateCall', () => {
  it('knows every method of the protocol with exactly its parameters', () => {
    expect(Object.keys(PARAM_CHECKS).sort()).toEqual([...METHODS].sort());
    for (const m of METHODS) expect(Object.keys(PARAM_CHECKS[m]).sort(), m).toEqual([...PARAM_NAMES[m]].sort());
  });

  it('passes well-formed calls on, as fresh plain objects with only the known parameters', () => {
    expect(validateCall('hello', undefined)).toEqual({ ok: true, method: 'hello', params: {} });
    expect(validateCall('check.start', {})).toEqual({ ok: true, method: 'check.start', params: {} });
    const params = { path: '/dev/sdb1' };
    const v = validateCall('open', params);
    expect(v).toEqual({ ok: true, method: 'open', params: { path: '/dev/sdb1' } });
    expect(v.ok && v.params).not.toBe(params);
    expect(validateCall('workingCopy.propose', { path: '/a.img.gz' })).toEqual({ ok: true, method: 'workingCopy.propose', params: { path: '/a.img.gz' } });
    expect(validateCall('workingCopy.make', { path: '/a.img.gz', folder: '/tmp/c' })).toMatchObject({ ok: true });
  });

  const refused: Array<[string, unknown, unknown, RegExp]> = [
    ['unknown method', 'format', {}, /Unknown method "format"/],
    ['method not a string', 42, {}, /Unknown method 42/],
    ['prototype key as method', '__proto__', {}, /Unknown method "__proto__"/],
    ['params an array', 'open', ['/dev/sda'], /must be a plain object/],
    ['params null', 'open', null, /must be a plain object/],
    ['params a string', 'hello', 'x', /must be a plain object/],
    ['params a class instance', 'open', new URL('file:///dev/sda'), /must be a plain object/],
    ['extra parameter', 'open', { path: '/x.img', write: true }, /open has no parameter "write" \(it takes path\)/],
    ['parameter on a method that takes none', 'check.start', { fast: 1 }, /no parameter "fast" \(it takes none\)/],
    ['inherited-looking key', 'open', JSON.parse('{"path": "/x", "__proto__": {"a": 1}}'), /no parameter "__proto__"/],
    ['missing path', 'open', {}, /"path" of open is missing/],
    ['path a number', 'open', { path: 7 }, /"path" of open must be a string/],
    ['path with NUL', 'open', { path: '/dev/sda\0.img' }, /contains a NUL character/],
    ['path too long', 'complete', { path: `/${'a'.repeat(MAX_PATH)}` }, /longer than 4096/],
    ['folder missing for make', 'workingCopy.make', { path: '/a.img' }, /"folder" of workingCopy.make is missing/],
    ['folder not a string', 'workingCopy.propose', { path: '/a.img', folder: ['/tmp'] }, /"folder" of workingCopy.propose must be a string/],
  ];
  for (const [what, method, params, message] of refused) {
    it(`refuses: ${what}`, () => {
      const v = validateCall(method, params);
      expect(v.ok).toBe(false);
      if (!v.ok) {
        expect(v.error.code).toBe('BAD_REQUEST');
        expect(v.error.message).toMatch(message);
        expect(v.error.message).toMatch(/reload it\.$/);
      }
    });
  }
});
