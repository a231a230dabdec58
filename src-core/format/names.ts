// Name tables as bcachefs prints them (bcachefs_format.h x-macros, opts.c).

export const BCH_BKEY_TYPES = [
  'deleted', 'discard', 'error', 'cookie', 'hash_whiteout', 'btree_ptr', 'extent', 'reservation', 'inode',
  'inode_generation', 'dirent', 'xattr', 'alloc', 'quota', 'stripe', 'reflink_p', 'reflink_v', 'inline_data',
  'btree_ptr_v2', 'indirect_inline_data', 'alloc_v2',
] as const;

export const KEY_TYPE_deleted = 0;
export const KEY_TYPE_discard = 1;
export const KEY_TYPE_error = 2;
export const KEY_TYPE_hash_whiteout = 4;
export const KEY_TYPE_btree_ptr = 5;
export const KEY_TYPE_extent = 6;
export const KEY_TYPE_reservation = 7;
export const KEY_TYPE_inode = 8;
export const KEY_TYPE_inode_generation = 9;
export const KEY_TYPE_dirent = 10;
export const KEY_TYPE_xattr = 11;
export const KEY_TYPE_alloc = 12;
export const KEY_TYPE_quota = 13;
export const KEY_TYPE_stripe = 14;
export const KEY_TYPE_reflink_p = 15;
export const KEY_TYPE_reflink_v = 16;
export const KEY_TYPE_inline_data = 17;
export const KEY_TYPE_btree_ptr_v2 = 18;
export const KEY_TYPE_indirect_inline_data = 19;
export const KEY_TYPE_alloc_v2 = 20;

export const BTREE_IDS = ['extents', 'inodes', 'dirents', 'xattrs', 'alloc', 'quotas', 'stripes', 'reflink'] as const;
export const BTREE_ID_NR = BTREE_IDS.length;
export const BTREE_ID_extents = 0;
export const BTREE_ID_inodes = 1;
export const BTREE_ID_dirents = 2;
export const BTREE_ID_xattrs = 3;
export const BTREE_ID_alloc = 4;
export const BTREE_ID_stripes = 6;
export const BTREE_ID_reflink = 7;

export function btreeIdByName(name: string): number {
  return (BTREE_IDS as readonly string[]).indexOf(name);
}
export function btreeName(id: number): string {
  return BTREE_IDS[id] ?? `(unknown btree ${id})`;
}

export const BCH_DATA_TYPES = ['none', 'sb', 'journal', 'btree', 'user', 'cached', 'parity'] as const;
export const BCH_DATA_none = 0;
export const BCH_DATA_sb = 1;
export const BCH_DATA_journal = 2;
export const BCH_DATA_btree = 3;
export const BCH_DATA_user = 4;
export const BCH_DATA_cached = 5;
export const BCH_DATA_parity = 6;

export const BCH_SB_FEATURES = [
  'lz4', 'gzip', 'zstd', 'atomic_nlink', 'ec', 'journal_seq_blacklist_v3', 'reflink', 'new_siphash', 'inline_data',
  'new_extent_overwrite', 'incompressible', 'btree_ptr_v2', 'extents_above_btree_updates', 'btree_updates_journalled',
  'reflink_inline_data', 'new_varint', 'journal_no_flush', 'alloc_v2', 'extents_across_btree_nodes',
];
export const BCH_SB_COMPAT = ['alloc_info', 'alloc_metadata', 'extents_above_btree_updates_done', 'bformat_overflow_done'];
export const BCH_SB_FIELDS = [
  'journal', 'members', 'crypt', 'replicas_v0', 'quota', 'disk_groups', 'clean', 'replicas', 'journal_seq_blacklist',
];
export const BCH_CSUM_OPTS = ['none', 'crc32c', 'crc64'];
export const BCH_COMPRESSION_OPTS = ['none', 'lz4', 'gzip', 'zstd'];
export const BCH_ERROR_ACTIONS = ['continue', 'ro', 'panic'];
export const BCH_STR_HASH_OPTS = ['crc32c', 'crc64', 'siphash'];
export const BCH_MEMBER_STATES = ['rw', 'ro', 'failed', 'spare'];
export const BCH_CACHE_REPLACEMENT_POLICIES = ['lru', 'fifo', 'random'];

/** bch2_flags_to_text: names of set bits joined by commas. */
export function flagsToText(names: readonly string[], flags: bigint): string {
  const out: string[] = [];
  for (let i = 0; i < 64; i++) {
    if (flags & (1n << BigInt(i))) out.push(names[i] ?? String(i));
  }
  return out.join(',');
}
