// What a check counted. Its own file, free of Node imports, because the renderer's types (ops/types.ts)
// carry it too.
export interface CheckStats {
  nodesRead: number;
  bytesRead: number;
  keysVisited: number;
  ptrsMarked: number;
  buckets: number;
  ms: number;
}
