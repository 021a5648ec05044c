// Compiles the config's allowlists into matchers once per config, not once per event.
import picomatch from "picomatch";
import type { Config } from "../config/schema.js";
import type { AllowLists } from "../detectors/types.js";

function matcher(globs: readonly string[]): (value: string) => boolean {
  if (globs.length === 0) return () => false;
  return picomatch([...globs], { nocase: true, dot: true });
}

export function compileAllowLists(config: Config): AllowLists {
  const actors = matcher(config.allow.actors);
  const repos = matcher(config.allow.repos);
  const forkOwners = matcher(config.allow.fork_owners);
  const hosts = matcher(config.allow.webhook_hosts);
  return {
    actor: (login) => login !== null && actors(login),
    repo: (fullName) => {
      if (fullName === null) return false;
      const bare = fullName.slice(fullName.indexOf("/") + 1);
      return repos(fullName) || repos(bare);
    },
    forkOwner: (login) => forkOwners(login),
    webhookHost: (url) => {
      try {
        return hosts(new URL(url).hostname);
      } catch {
        // Not a URL at all: never allowlisted, so the detector reports it.
        return false;
      }
    },
  };
}
