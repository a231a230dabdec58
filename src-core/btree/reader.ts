/** What the btree layer needs of a device: its size and synchronous reads of byte ranges. */
export interface BlockReader {
  readonly size: number;
  read(offset: number, length: number): Uint8Array;
  /** a hint that this range will be read soon (devices without read-ahead of their own start reading it) */
  prefetch?(offset: number, length: number): void;
  /** forgets every read-ahead not yet taken (after the device was written behind the reader's back) */
  dropPrefetch?(): void;
}
