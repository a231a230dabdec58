/** What the btree layer needs of a device: its size and synchronous reads of byte ranges. */
export interface BlockReader {
  readonly size: number;
  read(offset: number, length: number): Uint8Array;
}
