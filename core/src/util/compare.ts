/**
 * Orders strings by UTF-16 code units, as Go's sort.Strings does. Unlike localeCompare it never
 * loads ICU's collation data (MiBs of resident memory in a daemon that never shows a locale).
 */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
