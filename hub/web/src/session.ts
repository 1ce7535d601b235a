// The signed-in session: the API token (sessionStorage only, so it ends with the tab and
// never appears in a URL or in history), who it belongs to, and the hub's dashboard config.
import { createContext } from 'preact';
import { useContext, useEffect, useState } from 'preact/hooks';
import { allows, type DashboardConfig, type HubApi, type Principal, type Role } from './api.ts';
import type { Fleet } from './fleet.ts';
import type { HubEvent } from './events.ts';

const TOKEN_KEY = 'driftless.apiToken';

export const storedToken = (): string | null => sessionStorage.getItem(TOKEN_KEY);
export const storeToken = (token: string): void => sessionStorage.setItem(TOKEN_KEY, token);
export const forgetToken = (): void => sessionStorage.removeItem(TOKEN_KEY);

/** What every page gets. */
export interface Session {
  api: HubApi;
  me: Principal;
  config: DashboardConfig;
  fleet: Fleet;
  /** Whether the token's role may do what needs `role`. */
  can: (role: Role) => boolean;
  signOut: (message?: string) => void;
}

export const SessionContext = createContext<Session | undefined>(undefined);

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession outside a signed-in session');
  return s;
}

export const makeCan = (me: Principal) => (role: Role) => allows(me.role, role);

/** Re-renders on every fleet change; returns the fleet. */
export function useFleet(): Fleet {
  const { fleet } = useSession();
  const [, setVersion] = useState(fleet.version);
  useEffect(() => fleet.subscribe(() => setVersion(fleet.version)), [fleet]);
  return fleet;
}

/**
 * A counter that goes up (at most every `throttleMs`) when a hub event passes
 * `filter`: pages that keep their own lists reload on it.
 */
export function useEventTick(filter: (e: HubEvent) => boolean, throttleMs = 500): number {
  const { fleet } = useSession();
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const off = fleet.onHubEvent((e) => {
      if (!filter(e) || timer) return;
      timer = setTimeout(() => {
        timer = undefined;
        setTick((t) => t + 1);
      }, throttleMs);
    });
    return () => {
      off();
      clearTimeout(timer);
    };
    // The filter is a fresh closure each render; a page whose filter changes re-mounts.
  }, [fleet]);
  return tick;
}

/** State of a load: the value, or the error text, and whether it is loading. */
export interface Loaded<T> {
  value: T | undefined;
  error: string | undefined;
  loading: boolean;
  reload(): void;
}

/** Runs `load` when `deps` change (and on `reload()`), keeping the last value while reloading. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [state, setState] = useState<{ value: T | undefined; error: string | undefined }>({
    value: undefined,
    error: undefined,
  });
  const [loading, setLoading] = useState(true);
  const [nonce, setNonce] = useState(0);
  useEffect(() => {
    let live = true;
    setLoading(true);
    load().then(
      (value) => {
        if (!live) return;
        setState({ value, error: undefined });
        setLoading(false);
      },
      (err: unknown) => {
        if (!live) return;
        setState((s) => ({ value: s.value, error: (err as Error).message }));
        setLoading(false);
      },
    );
    return () => {
      live = false;
    };
  }, [...deps, nonce]);
  return { ...state, loading, reload: () => setNonce((n) => n + 1) };
}
