// Events made by the sweeps: facts exfil-monitor found by looking (a repo gone from the inventory, an org
// setting), with no actor, location or credential behind them.
import type { SweepAction } from "./actions.js";
import type { EventDetails, OrgEvent, Visibility } from "./types.js";

export function sweepEvent(e: {
  id: string;
  action: SweepAction;
  at: number;
  org: string;
  installationId: number | null;
  repo?: string | null;
  visibility?: Visibility | null;
  details: EventDetails;
}): OrgEvent {
  return {
    source: "sweep",
    actor: null,
    actorId: null,
    actorIsBot: false,
    country: null,
    ip: null,
    token: null,
    tokenType: null,
    ...e,
    repo: e.repo ?? null,
    visibility: e.visibility ?? null,
  };
}
