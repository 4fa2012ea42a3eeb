// github.com/fvbommel/sortorder.NaturalLess: digit runs compare by value, the rest byte-wise.

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

export function naturalLess(a: string, b: string): boolean {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const ca = a.charCodeAt(i);
    const cb = b.charCodeAt(j);
    if (!isDigit(ca) || !isDigit(cb)) {
      if (ca !== cb) return ca < cb;
      i++;
      j++;
      continue;
    }
    // Both at a digit run: skip leading zeros, compare lengths, then digits, then zero counts.
    const startA = i;
    const startB = j;
    while (i < a.length && a.charCodeAt(i) === 48) i++;
    while (j < b.length && b.charCodeAt(j) === 48) j++;
    const nzA = i;
    const nzB = j;
    while (i < a.length && isDigit(a.charCodeAt(i))) i++;
    while (j < b.length && isDigit(b.charCodeAt(j))) j++;
    const numA = a.slice(nzA, i);
    const numB = b.slice(nzB, j);
    if (numA.length !== numB.length) return numA.length < numB.length;
    if (numA !== numB) return numA < numB;
    if (nzA - startA !== nzB - startB) return nzA - startA < nzB - startB;
  }
  return a.length - i < b.length - j;
}

export function naturalCompare(a: string, b: string): number {
  if (naturalLess(a, b)) return -1;
  if (naturalLess(b, a)) return 1;
  return 0;
}
