// Makes attacker-chosen text (repo and branch names, key titles, commit messages, logins) harmless in an
// issue: it cannot @mention anyone, cannot open a link, cannot inject HTML or markdown, cannot break a
// table and cannot hide behind invisible or bidirectional characters. Every value that did not come from
// exfil-monitor itself goes through one of these functions before it reaches GitHub.

const MAX_VALUE = 300;

// C0/C1 controls, zero-width characters and bidirectional overrides (the "trojan source" set).
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const HIDDEN = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/g;

function showHidden(s: string): string {
  return s.replace(HIDDEN, (c) => {
    if (c === "\n" || c === "\r" || c === "\t") return " ";
    return `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;
  });
}

function truncate(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/**
 * A value as an inline code span: GitHub neither mentions, links nor renders HTML inside code. Backticks
 * (which could close the span) become a look-alike, and pipes are escaped so table cells stay whole.
 */
export function inert(value: unknown, max = MAX_VALUE): string {
  if (value === null || value === undefined) return "_unknown_";
  const s = truncate(showHidden(String(value)), max).replace(/`/g, "ˋ").replace(/\|/g, "\\|");
  if (s.trim() === "") return "_(empty)_";
  // A code span that starts or ends with a space loses it; pad so the value stays exact and visible.
  return /^ | $/.test(s) ? "` " + s + " `" : "`" + s + "`";
}

/**
 * Text for an issue title. Titles are not rendered as markdown and do not notify mentions, but they are
 * shown in notification e-mails and lists: keep them on one line, visible and short.
 */
export function inertTitle(value: string, max = 200): string {
  return truncate(showHidden(value).replace(/\s+/g, " ").trim(), max);
}
