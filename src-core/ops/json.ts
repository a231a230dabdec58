// Making values safe for JSON transports: bigints become decimal strings, byte arrays hex, Maps objects.

export function toJsonSafe(v: unknown, depth = 0): unknown {
  if (depth > 32) return '[too deep]';
  switch (typeof v) {
    case 'bigint':
      return v.toString();
    case 'number':
      return Number.isFinite(v) ? v : String(v);
    case 'string':
    case 'boolean':
      return v;
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
  }
  if (v === null) return null;
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex');
  if (ArrayBuffer.isView(v)) return Array.from(v as unknown as ArrayLike<number>);
  if (Array.isArray(v)) return v.map((x) => toJsonSafe(x, depth + 1) ?? null);
  if (v instanceof Map) return toJsonSafe(Object.fromEntries(v), depth + 1);
  if (v instanceof Set) return toJsonSafe([...v], depth + 1);
  if (v instanceof Error) return { message: v.message };
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    const s = toJsonSafe(x, depth + 1);
    if (s !== undefined) out[k] = s;
  }
  return out;
}
