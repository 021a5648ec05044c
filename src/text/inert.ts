// Makes attacker-chosen text (repo and branch names, key titles, commit messages, logins, config values) harmless
// wherever exfil-monitor shows it: it cannot @mention anyone, cannot open a link, cannot inject HTML or markdown,
// cannot break a table, cannot steer a terminal and cannot hide behind invisible or bidirectional characters.
// It imports nothing of the project, so every layer that shows text (config's notices, alerts, the CLI) can use
// it without importing another.
//
// showInvisible() is THE place invisible characters are made visible. Every sink that shows text to a person
// goes through it, directly or through the helpers below: issue titles and bodies, comments and notices
// (alerts/render.ts), the CLI's table and messages (cli/main.ts), its JSON lines (inertJson). A new sink (Slack, a
// generic webhook, e-mail, a web page) must pass every value, or its finished text, through it too, and get a
// test that runs every code point of test/helpers/invisible.ts through it. Logger lines are structured data,
// not a sink.
//
// What is escaped, as `\u{202E}` (upper-case hex, at least four digits), and why:
// - controls (Cc: C0, DEL, C1): ANSI escape sequences, carriage returns that overwrite a line, NEL;
// - format characters (Cf): bidirectional embeddings, overrides, isolates and marks (U+061C, U+200E/F,
//   U+202A–202E, U+2066–2069, the "trojan source" set), zero-width space/joiners (U+200B–200D), word joiner
//   (U+2060), BOM (U+FEFF), soft hyphen, Mongolian vowel separator (U+180E), interlinear annotation
//   (U+FFF9–FFFB), tag characters (U+E0000–E007F, which can carry a whole hidden sentence);
// - line and paragraph separators (U+2028/2029): line breaks to some renderers and terminals, not to others;
// - everything Unicode says to render as nothing (Default_Ignorable_Code_Point): Hangul fillers (U+115F, U+1160,
//   U+3164, U+FFA0), combining grapheme joiner (U+034F), Khmer inherent vowels (U+17B4/17B5), variation
//   selectors (U+FE00–FE0F, U+E0100–E01EF);
// - lone surrogates, which GitHub and terminals would turn into U+FFFD and so lose.
// The classes are Unicode properties, so the set follows the Unicode version of Node's ICU (Default_Ignorable
// reserves its future code points ahead). Cf also holds a few visible marks (Arabic number signs U+0600–0605):
// rare in names and messages, and escaping them costs nothing but looks.
// Variation selectors and U+200D also occur in emoji (❤️ is U+2764 U+FE0F): a security alert prefers exact to
// pretty, so such an emoji shows as `❤\u{FE0F}`; runs of them can smuggle hidden bytes after an emoji.
// Not escaped: visible spaces (U+00A0, U+2000–200A, U+2800 and the like show as a gap) and look-alike letters
// (Cyrillic а for Latin a): they are visible, and the exact value is in the database and in `--format json`.
// The escape is not reversible: someone can type `\u{202E}` literally, which shows the same way. That reveals
// nothing and hides nothing; the exact value is kept.

const MAX_VALUE = 300;

/** Unicode property classes of the characters shown escaped (see the list above). */
const INVISIBLE_CLASS = String.raw`\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}\p{Cs}`;
const INVISIBLE = new RegExp(`[${INVISIBLE_CLASS}]`, "gu");
/** The same, except the line breaks and tabs a multi-line text (a notice, a quoted file) keeps. */
const INVISIBLE_IN_LINES = new RegExp(`(?!\\r\\n|\\n|\\t)[${INVISIBLE_CLASS}]`, "gu");

function escapeOne(c: string): string {
  return `\\u{${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}}`;
}

/**
 * `text` with every invisible, control and bidirectional character written as `\u{HEX}`. With `keepLines`,
 * line breaks (`\n`, `\r\n`) and tabs stay as they are, for text shown on several lines. Idempotent: the
 * escapes are plain ASCII.
 */
export function showInvisible(text: string, opts: { keepLines?: boolean } = {}): string {
  return text.replace(opts.keepLines ? INVISIBLE_IN_LINES : INVISIBLE, escapeOne);
}

/**
 * At most `max` UTF-16 units, ending in `…` when cut. Never cuts an astral character (emoji, tag character) in
 * half, and never leaves half of a `\u{...}` escape: either would show something that was not there.
 */
export function truncate(s: string, max: number): string {
  if (s.length <= max) return s;
  const cut = s
    .slice(0, Math.max(0, max - 1))
    .replace(/[\uD800-\uDBFF]$/, "")
    .replace(/\\(u(\{[0-9A-F]*)?)?$/, "");
  return `${cut}…`;
}

/**
 * A value for one line: line breaks and tabs become spaces (visible, and a code span cannot hold them); a lone
 * carriage return, which overwrites a line on a terminal, is shown escaped like any control.
 */
function oneLine(s: string): string {
  return showInvisible(s.replace(/\r\n|[\n\t]/g, " "));
}

/**
 * A value as an inline code span: GitHub neither mentions, links nor renders HTML inside code. Backticks
 * (which could close the span) become a look-alike, and pipes are escaped so table cells stay whole.
 */
export function inert(value: unknown, max = MAX_VALUE): string {
  if (value === null || value === undefined) return "_unknown_";
  const s = truncate(oneLine(String(value)), max).replace(/`/g, "ˋ").replace(/\|/g, "\\|");
  if (s.trim() === "") return "_(empty)_";
  // A code span that starts or ends with a space loses it; pad so the value stays exact and visible.
  return /^ | $/.test(s) ? "` " + s + " `" : "`" + s + "`";
}

/**
 * Text for an issue title. Titles are not rendered as markdown and do not notify mentions, but they are
 * shown in notification e-mails and lists: keep them on one line, visible and short.
 */
export function inertTitle(value: string, max = 200): string {
  return truncate(oneLine(value).replace(/\s+/g, " ").trim(), max);
}

/**
 * JSON of `value` with every character showInvisible() would escape written as a JSON `\uXXXX` escape
 * (astral ones as their surrogate pair). JSON.parse gives back exactly `value`; the raw line printed on a
 * terminal or opened in an editor shows no control, bidirectional or invisible character.
 */
export function inertJson(value: unknown): string {
  return JSON.stringify(value).replace(INVISIBLE, (c) => {
    let out = "";
    for (let i = 0; i < c.length; i++) out += `\\u${c.charCodeAt(i).toString(16).padStart(4, "0")}`;
    return out;
  });
}
