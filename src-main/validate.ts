// Every message from the renderer is checked here, in main, before anything reaches the core: the method
// must be one of the protocol's, and its parameters exactly those the protocol gives it, with their types.
// The renderer is sandboxed, but a compromised page must still not be able to send anything else.
import { METHODS, type Method, type Params } from '../src-core/service/protocol.js';

export type Validated = { ok: true; method: Method; params: Record<string, unknown> } | { ok: false; error: { code: 'BAD_REQUEST'; message: string } };

/** Longest path accepted (Linux PATH_MAX). */
export const MAX_PATH = 4096;

type Check = (v: unknown) => string | null;
const path: Check = (v) => {
  if (typeof v !== 'string') return 'must be a string';
  if (v.length > MAX_PATH) return `is longer than ${MAX_PATH} characters`;
  if (v.includes('\0')) return 'contains a NUL character';
  return null;
};
const text: Check = (v) => (typeof v === 'string' && v.length <= MAX_PATH ? null : 'must be a string');
const count: Check = (v) => (Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 1 << 24 ? null : 'must be a whole number');
const optional = (c: Check): Check => (v) => (v === undefined ? null : c(v));

/** Per method, per parameter: how to check it (same names as protocol.ts PARAM_NAMES; a test keeps them equal). */
export const PARAM_CHECKS: { readonly [M in Method]-?: { readonly [K in keyof NonNullable<Params[M]>]-?: Check } } = {
  hello: {}, superblock: {}, btrees: {}, 'check.start': {}, 'check.cancel': {}, findings: {}, close: {}, devices: {},
  open: { path },
  complete: { path },
  'workingCopy.propose': { path, folder: optional(path) },
  'workingCopy.make': { path, folder: path },
  'picture.keyRange': { finding: text },
  'picture.hex': { finding: text },
  'picture.buckets': { dev: optional(count), cells: optional(count) },
  plan: {},
  apply: { journal: path, fixes: (v) => (Array.isArray(v) && v.length <= 10_000 && v.every((x) => text(x) === null) ? null : 'must be a list of fix ids'), who: optional(text) },
  'repair.cancel': {},
  'write.confirm': { path, journal: path },
  history: { journal: path },
  undo: { journal: path, fix: optional(count), session: optional(count), all: optional((v) => (v === true ? null : 'can only be true')) },
  report: { journal: path, format: (v) => (v === 'html' || v === 'json' || v === 'pdf' ? null : 'must be html, json or pdf'), output: path },
};

const bad = (message: string): Validated => ({ ok: false, error: { code: 'BAD_REQUEST', message: `${message} This is a bug in the window; reload it.` } });

export function validateCall(method: unknown, params: unknown): Validated {
  if (typeof method !== 'string' || !(METHODS as readonly string[]).includes(method)) return bad(`Unknown method ${JSON.stringify(method)}.`);
  const m = method as Method;
  if (params !== undefined && (typeof params !== 'object' || params === null || Array.isArray(params) || Object.getPrototypeOf(params) !== Object.prototype)) {
    return bad(`The parameters of ${m} must be a plain object.`);
  }
  const p = (params ?? {}) as Record<string, unknown>;
  const checks = PARAM_CHECKS[m] as Record<string, Check>;
  for (const k of Object.keys(p)) {
    if (!Object.hasOwn(checks, k)) return bad(`${m} has no parameter "${k}" (it takes ${Object.keys(checks).join(', ') || 'none'}).`);
  }
  for (const [k, check] of Object.entries(checks)) {
    const why = check(p[k]);
    if (why) return bad(`The parameter "${k}" of ${m} ${why === 'must be a string' && p[k] === undefined ? 'is missing' : why}.`);
  }
  // a fresh object: nothing the page built (getters, prototypes) travels further
  return { ok: true, method: m, params: Object.fromEntries(Object.keys(checks).filter((k) => p[k] !== undefined).map((k) => [k, p[k]])) };
}
