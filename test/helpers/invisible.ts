// Code points that must never reach a reader raw: every sink's test runs all of them through it. LISTED is the
// hardening issue's list, every code point of every range; MORE is what was judged to belong with them (see
// the header of src/text/inert.ts for why each is there).

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

export const LISTED: readonly number[] = [
  // bidirectional controls
  0x061c, 0x200e, 0x200f, ...range(0x202a, 0x202e), ...range(0x2066, 0x2069),
  // tag characters
  ...range(0xe0000, 0xe007f),
  // zero-width and filler characters
  ...range(0x200b, 0x200d), 0x2060, 0xfeff, 0x115f, 0x1160, 0x3164,
];

export const MORE: readonly number[] = [
  // C0 (but line feed and tab, which each sink turns into a space or keeps), DEL, C1 (CSI and NEL among them)
  ...range(0x00, 0x08), 0x0b, 0x0c, 0x0d, ...range(0x0e, 0x1f), 0x7f, ...range(0x80, 0x9f),
  0x2028, 0x2029, 0x180e, ...range(0xfff9, 0xfffb), 0x034f, 0x17b4, 0x17b5, ...range(0xfe00, 0xfe0f),
  0x00ad, 0xffa0, ...range(0x2061, 0x2064), ...range(0x206a, 0x206f), 0xe0100, 0xe01ef,
];

export const ALL: readonly number[] = [...LISTED, ...MORE];

/** How showInvisible() writes a code point. */
export function escaped(cp: number): string {
  return `\\u{${cp.toString(16).toUpperCase().padStart(4, "0")}}`;
}

export const name = (cp: number): string => `U+${cp.toString(16).toUpperCase().padStart(4, "0")}`;
