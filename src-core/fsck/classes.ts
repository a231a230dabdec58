// The finding classes of bcachefs's fsck passes (libbcachefs/fsck.c at a76f36fc6), to be folded into the
// checker's problem table. Each is an fsck error bcachefs prints with ", not fixing" under -n; `repair` is
// what its fsck -y does about it. Every class is stage 'fsck'.
import type { Severity } from '../check/findings.js';

/** What bcachefs's fsck -y does (fsck.c): the repairs of these classes. */
export type FsckRepairKind =
  | 'delete_inode'
  | 'truncate_inode'
  | 'recount_i_sectors'
  | 'set_i_sectors'
  | 'cut_overlapping_extent'
  | 'delete_inode_extents'
  | 'truncate_extents'
  | 'create_root'
  | 'set_i_nlink'
  | 'delete_key'
  | 'rehash_key'
  | 'remove_dirent'
  | 'set_backpointer'
  | 'set_d_type'
  | 'reattach_inode';

export interface FsckClassInfo {
  severity: Severity;
  stage: 'fsck';
  /** which pass of fsck.c reports it */
  pass: FsckPassName;
  explanation: string;
  repair: FsckRepairKind;
  /** the repair, in words */
  repairText: string;
  /** where bcachefs 2021's fsck -y is known to fail at this repair (seen on the fixtures) */
  shortfall?: string;
}

/** bch2_fsck_full's passes, in its order. */
export const FSCK_PASSES = [
  'check_inodes', 'check_extents', 'check_dirents', 'check_xattrs', 'check_root', 'check_directory_structure', 'check_nlinks',
] as const;
export type FsckPassName = (typeof FSCK_PASSES)[number];

const c = (pass: FsckPassName, repair: FsckRepairKind, explanation: string, repairText: string, shortfall?: string): FsckClassInfo => ({
  severity: 'error', stage: 'fsck', pass, explanation, repair, repairText, ...(shortfall ? { shortfall } : {}),
});

/** check_extents' repairs return -EINTR to be retried, but bch2_fsck_full takes it for a failure */
const EXTENTS_EINTR =
  "bcachefs 2021's check_extents makes this repair and then returns -EINTR, which ends fsck: on the test images fsck -y stopped " +
  'with "error in fsck (-4)" (exit 8), nothing was written, and the next fsck -n found the same error (exit 4)';

export const FSCK_CLASSES = {
  // check_inodes (check_inode)
  inode_unlinked_on_clean_fs: c('check_inodes', 'delete_inode',
    'the inode is flagged unlinked (its last link was removed while it was open) but the filesystem was unmounted cleanly, ' +
    'which deletes such inodes first',
    'deletes the inode with its extents, xattrs and dirents'),
  inode_i_size_dirty_on_clean_fs: c('check_inodes', 'truncate_inode',
    'the inode is flagged i_size dirty (a truncate or extending write was in flight) on a cleanly unmounted filesystem',
    'deletes the extents past i_size and recounts i_sectors'),
  inode_i_sectors_dirty_on_clean_fs: c('check_inodes', 'recount_i_sectors',
    'the inode is flagged i_sectors dirty (its sector count was being updated) on a cleanly unmounted filesystem',
    'recounts i_sectors from the extents'),
  // check_extents
  inode_i_sectors_wrong: c('check_extents', 'set_i_sectors',
    "the inode's i_sectors differs from the sum of the sizes of its extents",
    'sets i_sectors to the sum of its extents'),
  extents_overlapping: c('check_extents', 'cut_overlapping_extent',
    'two extents cover the same sectors of a file',
    'cuts the front of the second extent at the end of the first', EXTENTS_EINTR),
  extent_missing_inode: c('check_extents', 'delete_inode_extents',
    'an extent belongs to an inode number that has no inode: its data is not reachable',
    "deletes all the inode number's extents", EXTENTS_EINTR),
  extent_non_regular_inode: c('check_extents', 'delete_inode_extents',
    'an extent belongs to an inode that is neither a regular file nor a symlink',
    "deletes all the inode's extents", EXTENTS_EINTR),
  extent_past_end_of_inode: c('check_extents', 'truncate_extents',
    "an extent ends beyond the inode's i_size (rounded up to a block)",
    "deletes the inode's extents past i_size (from i_size in bytes taken as a sector offset, in bcachefs 2021)", EXTENTS_EINTR),
  // check_dirents
  dir_i_nlink_wrong: c('check_dirents', 'set_i_nlink',
    "a directory's i_nlink differs from the number of its subdirectories",
    'sets i_nlink to the number of subdirectories'),
  dirent_in_missing_dir: c('check_dirents', 'delete_key',
    'a dirent lies in a directory inode number that has no inode',
    'deletes the dirent'),
  dirent_in_non_dir: c('check_dirents', 'delete_key',
    'a dirent lies in an inode that is not a directory',
    'deletes the dirent'),
  hash_duplicate_key: c('check_dirents', 'delete_key',
    'the same name appears twice in one hash table (directory or xattrs of an inode)',
    'deletes the second key'),
  hash_wrong_offset: c('check_dirents', 'rehash_key',
    "a dirent or xattr is not where its name's hash (with the directory's hash seed) and linear probing put it: " +
      'lookups by name cannot find it',
    'deletes the key and inserts it again at its hash'),
  dirent_missing_target: c('check_dirents', 'remove_dirent',
    'a dirent points to an inode number that has no inode',
    'removes the dirent'),
  dir_multiple_links: c('check_dirents', 'remove_dirent',
    'a directory is named by more than one dirent (directories cannot be hard linked)',
    'removes the dirent that is not the directory\'s backpointer'),
  inode_multiple_links_nlink_zero: c('check_dirents', 'set_i_nlink',
    'an inode named by more than one dirent has i_nlink 0',
    'raises i_nlink by one and clears the unlinked flag'),
  inode_wrong_backpointer: c('check_dirents', 'set_backpointer',
    "the inode's backpointer (bi_dir:bi_dir_offset) names no dirent pointing back to it",
    'points the backpointer at this dirent'),
  dirent_wrong_d_type: c('check_dirents', 'set_d_type',
    "a dirent's d_type differs from the type of the inode it points to",
    "sets d_type from the inode's mode"),
  // check_xattrs
  xattr_missing_inode: c('check_xattrs', 'delete_key',
    'an xattr belongs to an inode number that has no inode',
    'deletes the xattr'),
  // check_root
  root_dir_missing: c('check_root', 'create_root',
    'there is no root directory inode (4096)',
    'creates an empty root directory'),
  root_not_dir: c('check_root', 'create_root',
    'the root inode (4096) is not a directory',
    'replaces it with an empty root directory'),
  // check_directory_structure
  inode_unreachable: c('check_directory_structure', 'reattach_inode',
    'no dirent reaches the inode: its backpointer names no dirent pointing to it',
    'links it into lost+found under its inode number'),
  dir_structure_loop: c('check_directory_structure', 'reattach_inode',
    'following the parent directories from a directory comes back to it: the loop is cut off from the root',
    'removes the dirent that closes the loop and links the directory into lost+found'),
  // check_nlinks
  inode_i_nlink_wrong: c('check_nlinks', 'set_i_nlink',
    "a file's i_nlink differs from the number of dirents pointing to it; bcachefs checks this for files with more than one link",
    'sets i_nlink to the number of dirents'),
} as const satisfies Record<string, FsckClassInfo>;

export type FsckClass = keyof typeof FSCK_CLASSES;

export function isFsckClass(name: string): name is FsckClass {
  return Object.hasOwn(FSCK_CLASSES, name);
}
