// The one place a finding's severity is raised for who its actor is. The engine applies it when it records a
// finding (facts already in the directory); the app's actor check (pipeline/actors.ts) applies it once more
// after looking up an account the directory did not know yet. Both use this rule, so the app, `analyze` and
// the demo give the same severity for the same events and the same facts.

export const NEW_MEMBER_DAYS = 30;
export const YOUNG_ACCOUNT_DAYS = 30;
const DAY = 24 * 60 * 60 * 1000;

function day(at: number): string {
  return new Date(at).toISOString().slice(0, 10);
}

/** Why an actor who joined `org` at `joinedAt` makes a finding first seen at `at` one step worse, or null. */
export function newMemberReason(actor: string, org: string, joinedAt: number | null, at: number): string | null {
  if (joinedAt === null || at < joinedAt || at - joinedAt >= NEW_MEMBER_DAYS * DAY) return null;
  return `${actor} joined ${org} on ${day(joinedAt)}, less than ${NEW_MEMBER_DAYS} days before`;
}

/** Why an actor whose GitHub account was created at `createdAt` makes a finding first seen at `at` worse, or null. */
export function youngAccountReason(actor: string, createdAt: number | null, at: number): string | null {
  if (createdAt === null) return null;
  const age = at - createdAt;
  if (age < 0 || age >= YOUNG_ACCOUNT_DAYS * DAY) return null;
  const days = Math.floor(age / DAY);
  return `${actor}'s GitHub account was created on ${day(createdAt)}, ${days} ${days === 1 ? "day" : "days"} before`;
}
