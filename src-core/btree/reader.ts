import type { BlockReader as DeviceReader } from '../device/index.js';

/** What the btree layer needs of the device's BlockReader (tests hand in in-memory images): size and reads, read-ahead if it has any. */
export type BlockReader = Pick<DeviceReader, 'size' | 'read'> & Partial<Pick<DeviceReader, 'prefetch' | 'dropPrefetch'>>;
