// Detector state in memory. A scope's state is loaded whole the first time a batch touches it and kept while
// the engine goes on judging that scope (one org's webhooks, one enterprise's export), so a detector reads and
// writes a Map, never the database; what changed is written back once per batch. Scopes not used recently are
// dropped when the cache grows past its bound: they are on disk and come back on next use.
import type { DetectorState } from "../detectors/types.js";
import type { StateChange, Storage } from "../store/storage.js";

/**
 * State is dropped once it expired this long before the oldest event being judged: audit-log events arrive up
 * to 7 days late, and their windows must still be there when they are judged.
 */
export const STATE_EXPIRY_GRACE_MS = 8 * 24 * 60 * 60_000;

interface Entry {
  value: unknown;
  expiresAt: number;
}

/** A key changed since the last write-back: its entry, or null once deleted. */
type Change = Entry | null;

/**
 * One detector's state in one scope. A class rather than closures: the engine hands it to the detector for
 * every event, so it is made once per scope and detector and never per call.
 */
class DetectorStateView implements DetectorState {
  readonly entries = new Map<string, Entry>();
  readonly dirty = new Map<string, Change>();

  constructor(
    private readonly cache: StateCache,
    readonly scope: string,
    readonly detector: string,
  ) {}

  get<T>(key: string): T | undefined {
    return this.entries.get(key)?.value as T | undefined;
  }

  set(key: string, value: unknown, expiresAt: number): void {
    const e = { value, expiresAt };
    if (!this.entries.has(key)) this.cache.size++;
    this.entries.set(key, e);
    if (this.dirty.size === 0) this.cache.changed.add(this);
    this.dirty.set(key, e);
  }

  delete(key: string): void {
    if (this.entries.delete(key)) this.cache.size--;
    if (this.dirty.size === 0) this.cache.changed.add(this);
    this.dirty.set(key, null);
  }
}

class ScopeState {
  readonly detectors = new Map<string, DetectorStateView>();

  constructor(
    private readonly cache: StateCache,
    private readonly scope: string,
  ) {}

  view(detector: string): DetectorStateView {
    let v = this.detectors.get(detector);
    if (v === undefined) this.detectors.set(detector, (v = new DetectorStateView(this.cache, this.scope, detector)));
    return v;
  }

  get size(): number {
    let n = 0;
    for (const v of this.detectors.values()) n += v.entries.size;
    return n;
  }

  get dirty(): boolean {
    for (const v of this.detectors.values()) if (v.dirty.size > 0) return true;
    return false;
  }
}

export class StateCache {
  /** Scope → its state; Map order is use order (least recently used first). */
  private readonly scopes = new Map<string, ScopeState>();
  /** Entries held, over every scope. */
  size = 0;
  /** Views with changes not yet taken for writing back. */
  readonly changed = new Set<DetectorStateView>();

  constructor(private readonly maxEntries: number) {}

  /** Loads the scopes not held yet; keeps the others, marking them used. */
  async load(tx: Storage, scopes: Iterable<string>): Promise<void> {
    const wanted = new Set(scopes);
    for (const scope of wanted) {
      const held = this.scopes.get(scope);
      if (held) {
        this.scopes.delete(scope);
        this.scopes.set(scope, held);
      }
    }
    this.evict(wanted);
    for (const scope of wanted) {
      if (this.scopes.has(scope)) continue;
      const state = new ScopeState(this, scope);
      for (const e of await tx.state.loadScope(scope)) {
        state.view(e.detector).entries.set(e.key, { value: e.value, expiresAt: e.expiresAt });
        this.size++;
      }
      this.scopes.set(scope, state);
    }
  }

  /** One detector's state in one scope, as the detector contract wants it. The scope must be loaded. */
  view(scope: string, detector: string): DetectorState {
    const state = this.scopes.get(scope);
    if (!state) throw new Error(`detector state of ${scope} was not loaded before judging`);
    return state.view(detector);
  }

  /** What changed since the last call, to write back in the batch's unit of work. */
  takeChanges(): StateChange[] {
    const out: StateChange[] = [];
    for (const v of this.changed) {
      const { scope, detector } = v;
      for (const [key, e] of v.dirty) {
        out.push(e === null ? { scope, detector, key } : { scope, detector, key, value: e.value, expiresAt: e.expiresAt });
      }
      v.dirty.clear();
    }
    this.changed.clear();
    return out;
  }

  /**
   * Mirrors the database dropping the state that has expired before `at`, now. State written later with an
   * earlier expiry stays readable, as it does in the database (a second file read after a newer one).
   */
  expireBefore(at: number): void {
    for (const state of this.scopes.values()) {
      for (const v of state.detectors.values()) {
        for (const [k, e] of v.entries) {
          if (e.expiresAt < at) {
            v.entries.delete(k);
            this.size--;
          }
        }
      }
    }
  }

  clear(): void {
    this.scopes.clear();
    this.changed.clear();
    this.size = 0;
  }

  /** Drops least recently used scopes (never one the batch needs, never one with unwritten changes). */
  private evict(keep: ReadonlySet<string>): void {
    for (const [scope, state] of this.scopes) {
      if (this.size <= this.maxEntries) return;
      if (keep.has(scope) || state.dirty) continue;
      this.scopes.delete(scope);
      this.size -= state.size;
    }
  }
}
