/** tools-util.c pr_units(HUMAN_READABLE) of a sector count: "4.0K", "128.0M". */
export function prUnitsSectors(sectors: number): string {
  const v = sectors * 512;
  if (v < 1024) return String(v);
  const exp = Math.floor(Math.log(v) / Math.log(1024));
  return `${(v / 1024 ** exp).toFixed(1)}${'KMGTPE'[exp - 1]}`;
}
