// bch2_bkey_val_to_text: one key as `bcachefs list` prints it.
import { KeyTable } from './bkey.js';
import { bposFieldsToText, bposToText, type Bpos } from './bpos.js';
import {
  BCH_BKEY_TYPES, BCH_DATA_TYPES, KEY_TYPE_btree_ptr, KEY_TYPE_btree_ptr_v2, KEY_TYPE_extent, KEY_TYPE_reservation,
  KEY_TYPE_inode, KEY_TYPE_inode_generation, KEY_TYPE_dirent, KEY_TYPE_xattr, KEY_TYPE_alloc, KEY_TYPE_alloc_v2,
  KEY_TYPE_quota, KEY_TYPE_stripe, KEY_TYPE_reflink_p, KEY_TYPE_reflink_v, KEY_TYPE_inline_data,
  KEY_TYPE_indirect_inline_data,
} from './names.js';
import {
  extentEntriesToText, btreePtrV2HeaderToText, inodeToText, direntToText, xattrToText, inlineDataToText,
  allocToText, stripeToText, BTREE_PTR_V2_HEADER_BYTES,
} from './values.js';
import { readU32, readU64, u64HiLoToString } from './bytes.js';

export interface KeyTextOptions {
  /** marks a pointer " stale" when its bucket's gen has moved past it (fsck messages do, `list` does not) */
  stale?: (dev: number, offset: number, gen: number) => boolean;
}

const U32_MAXN = 0xffffffff;

function u64Text(hi: number, lo: number): string {
  return hi === U32_MAXN && lo === U32_MAXN ? 'U64_MAX' : u64HiLoToString(hi, lo);
}

/** bch2_bkey_to_text: `u64s U type T POS len L ver V`. */
export function bkeyToText(t: KeyTable, i: number): string {
  const type = t.type[i]!;
  const name = type < BCH_BKEY_TYPES.length ? BCH_BKEY_TYPES[type] : String(type);
  const ih = t.inodeHi[i]!;
  const il = t.inodeLo[i]!;
  const oh = t.offsetHi[i]!;
  const ol = t.offsetLo[i]!;
  const sn = t.snapshot[i]!;
  let pos: string;
  if ((ih | il | oh | ol | sn) === 0) pos = 'POS_MIN';
  else if (ih === U32_MAXN && il === U32_MAXN && oh === U32_MAXN && ol === U32_MAXN && sn === U32_MAXN) pos = 'POS_MAX';
  else pos = bposFieldsToText(u64Text(ih, il), u64Text(oh, ol), sn);
  return `u64s ${t.u64s[i]} type ${name} ${pos} len ${t.size[i]} ver ${u64HiLoToString(t.versionLoHi[i]!, t.versionLoLo[i]!)}`;
}

/** bch2_val_to_text. */
function bkeyValueToText(t: KeyTable, i: number, opts: KeyTextOptions = {}): string {
  const type = t.type[i]!;
  const buf = t.buf;
  const off = t.valOff[i]!;
  const end = off + t.valLen[i]!;
  const val = buf.subarray(off, end);
  const posText = (p: Bpos): string => bposToText(p);
  switch (type) {
    case KEY_TYPE_btree_ptr:
    case KEY_TYPE_extent:
      return extentEntriesToText(buf, off, end, t.size[i]!, opts.stale);
    case KEY_TYPE_btree_ptr_v2:
      if (val.length < BTREE_PTR_V2_HEADER_BYTES) return '(invalid btree_ptr_v2)';
      return btreePtrV2HeaderToText(val, posText) + extentEntriesToText(buf, off + BTREE_PTR_V2_HEADER_BYTES, end, 0, opts.stale);
    case KEY_TYPE_reservation:
      return val.length >= 5 ? `generation ${readU32(val, 0)} replicas ${val[4]}` : '(invalid reservation)';
    case KEY_TYPE_inode:
      return inodeToText(val);
    case KEY_TYPE_inode_generation:
      return val.length >= 4 ? `generation: ${readU32(val, 0)}` : '(invalid inode_generation)';
    case KEY_TYPE_dirent:
      return direntToText(val);
    case KEY_TYPE_xattr:
      return xattrToText(val);
    case KEY_TYPE_alloc:
    case KEY_TYPE_alloc_v2:
      return allocToText(type, val, BCH_DATA_TYPES);
    case KEY_TYPE_quota: {
      const names = ['hardlimit', 'softlimit'];
      let s = '';
      for (let c = 0; c < 2 && 16 * c + 16 <= val.length; c++) {
        s += `${['space', 'inodes'][c]} ${names[0]} ${readU64(val, 16 * c)} ${names[1]} ${readU64(val, 16 * c + 8)}`;
      }
      return s;
    }
    case KEY_TYPE_stripe:
      return stripeToText(val);
    case KEY_TYPE_reflink_p:
      return val.length >= 8 ? `idx ${readU64(val, 0)}` : '(invalid reflink_p)';
    case KEY_TYPE_reflink_v:
      if (val.length < 8) return '(invalid reflink_v)';
      return `refcount: ${readU64(val, 0)} ` + extentEntriesToText(buf, off + 8, end, t.size[i]!, opts.stale);
    case KEY_TYPE_inline_data:
      return inlineDataToText(val);
    case KEY_TYPE_indirect_inline_data:
      return val.length >= 8 ? inlineDataToText(val.subarray(8), `refcount ${readU64(val, 0)} `) : '(invalid indirect_inline_data)';
    default:
      return type < BCH_BKEY_TYPES.length ? '' : `(invalid type ${type})`;
  }
}

/** bch2_bkey_val_to_text: `<key>: <value>`. */
export function bkeyValToText(t: KeyTable, i: number, opts: KeyTextOptions = {}): string {
  return `${bkeyToText(t, i)}: ${bkeyValueToText(t, i, opts)}`;
}
