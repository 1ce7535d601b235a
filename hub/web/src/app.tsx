// The shell: sign-in, then the navigation and the page the fragment names.
import { useEffect, useState } from 'preact/hooks';
import { HubCallError, HubApi, type DashboardConfig, type Principal } from './api.ts';
import { Fleet } from './fleet.ts';
import { needsApproval } from './model.ts';
import { href, useLocation } from './router.ts';
import {
  forgetToken,
  makeCan,
  SessionContext,
  storedToken,
  storeToken,
  useFleet,
  useSession,
  type Session,
} from './session.ts';
import { Overview } from './pages/overview.tsx';
import { DriftPage } from './pages/drift.tsx';
import { LedgerPage } from './pages/ledger.tsx';
import { ClusterPage } from './pages/cluster.tsx';
import { AppPage } from './pages/app-page.tsx';
import { ApprovalsPage } from './pages/approvals.tsx';
import { TokensPage } from './pages/tokens.tsx';
import { NotificationsPage } from './pages/notifications.tsx';
import { Notice } from './components.tsx';

/** Checks a token against the hub: whoami and the dashboard config. */
async function signIn(token: string): Promise<{ me: Principal; config: DashboardConfig }> {
  const api = new HubApi(token);
  const me = await api.get<Principal>('/api/v1/whoami');
  const config = await api.get<DashboardConfig>('/api/v1/config');
  return { me, config };
}

/** Words for a refused sign-in. */
function signInError(err: unknown): string {
  if (err instanceof HubCallError) {
    if (err.status === 401)
      return `The hub did not accept this API token: ${err.message}. Check that you pasted the whole token (at_….…) and that it was not revoked.`;
    if (err.status === 429) return `Too many failed sign-ins from this address: ${err.message}`;
    if (err.status === 0) return 'The hub could not be reached. Is it running?';
    return err.message;
  }
  return (err as Error).message;
}

export function App() {
  const [session, setSession] = useState<Session | undefined>(undefined);
  const [notice, setNotice] = useState<string | undefined>(undefined);
  const [restoring, setRestoring] = useState(() => storedToken() !== null);

  const start = async (token: string) => {
    const { me, config } = await signIn(token);
    storeToken(token);
    const signOut = (message?: string) => {
      fleet.stop();
      forgetToken();
      setSession(undefined);
      setNotice(message);
    };
    const api = new HubApi(token, (err) => signOut(`You were signed out: ${err.message}.`));
    const fleet = new Fleet(api);
    fleet.start(() => signOut('You were signed out: the hub no longer accepts this API token.'));
    setNotice(undefined);
    setSession({ api, me, config, fleet, can: makeCan(me), signOut });
  };

  useEffect(() => {
    const token = storedToken();
    if (!token) return;
    start(token)
      .catch((err: unknown) => {
        forgetToken();
        setNotice(signInError(err));
      })
      .finally(() => setRestoring(false));
    // Runs once: a stored token is tried when the tab opens.
  }, []);

  if (restoring) return <div class="splash">Signing in…</div>;
  if (!session)
    return (
      <SignIn
        notice={notice}
        onToken={async (token) => {
          try {
            await start(token);
            return undefined;
          } catch (err) {
            return signInError(err);
          }
        }}
      />
    );
  return (
    <SessionContext.Provider value={session}>
      <Shell />
    </SessionContext.Provider>
  );
}

function SignIn(props: {
  notice: string | undefined;
  onToken(t: string): Promise<string | undefined>;
}) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  return (
    <main class="signin">
      <form
        class="card signin-card"
        onSubmit={(e) => {
          e.preventDefault();
          const t = token.trim();
          if (!t) {
            setError('Paste an API token first.');
            return;
          }
          setBusy(true);
          setError(undefined);
          void props.onToken(t).then((err) => {
            setBusy(false);
            setError(err);
          });
        }}
      >
        <div class="brand big">
          <Logo /> Driftless
        </div>
        <h1>Sign in to the hub</h1>
        <p class="muted">
          Use an API token (<code>at_…</code>) from <code>driftless api-token create</code>, or the
          bootstrap admin token the hub printed on its first start. It is kept in this tab only and
          forgotten when the tab closes.
        </p>
        {props.notice && !error && <Notice kind="info">{props.notice}</Notice>}
        {error && <Notice kind="error">{error}</Notice>}
        <label for="token">API token</label>
        <input
          id="token"
          name="token"
          type="password"
          autocomplete="off"
          spellcheck={false}
          value={token}
          onInput={(e) => setToken(e.currentTarget.value)}
          aria-invalid={error ? 'true' : undefined}
          autofocus
        />
        <button type="submit" class="btn primary" disabled={busy}>
          {busy ? 'Checking…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}

function Logo() {
  return (
    <svg viewBox="0 0 32 32" width="22" height="22" aria-hidden="true">
      <rect width="32" height="32" rx="7" fill="#1f3a5f" />
      <path
        d="M7 20c4-8 8 4 12-4s4-4 6-4"
        fill="none"
        stroke="#7fd1b9"
        stroke-width="3"
        stroke-linecap="round"
      />
    </svg>
  );
}

const STREAM_TEXT = {
  connecting: { cls: 'info', text: 'Connecting…' },
  live: { cls: 'ok', text: 'Live' },
  reconnecting: { cls: 'warn', text: 'Reconnecting…' },
} as const;

function Shell() {
  const { me, can, signOut } = useSession();
  const fleet = useFleet();
  const loc = useLocation();
  const section = loc.segments[0] ?? '';
  const stream = STREAM_TEXT[fleet.stream];
  let pending = 0;
  for (const c of fleet.clusters) pending += fleet.appsOf(c.name).filter(needsApproval).length;
  const nav: [string, string, string, boolean][] = [
    ['', 'Fleet', href(), true],
    ['drift', 'Drift', href('drift'), true],
    ['ledger', 'Ledger', href('ledger'), true],
    ['approvals', 'Approvals', href('approvals'), true],
    ['tokens', 'Enrollment', href('tokens'), can('admin')],
    ['notifications', 'Notifications', href('notifications'), true],
  ];
  return (
    <div class="shell">
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="topbar">
        <a class="brand" href={href()}>
          <Logo /> Driftless
        </a>
        <nav aria-label="Main">
          {nav
            .filter(([, , , show]) => show)
            .map(([key, label, to]) => (
              <a
                key={key}
                href={to}
                class={
                  section === key || (key === '' && (section === 'clusters' || section === 'apps'))
                    ? 'active'
                    : ''
                }
                aria-current={section === key ? 'page' : undefined}
              >
                {label}
                {key === 'approvals' && pending > 0 && (
                  <span class="count" aria-label={`${pending} waiting`}>
                    {pending}
                  </span>
                )}
              </a>
            ))}
        </nav>
        <div class="who">
          <span class={`live tone-${stream.cls}`} role="status" aria-live="polite">
            <span class="dot" aria-hidden="true" />
            {stream.text}
          </span>
          <span class="me" title={me.id}>
            {me.name} <span class="role">{me.role}</span>
          </span>
          <button type="button" class="btn small ghost" onClick={() => signOut('You signed out.')}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {fleet.error && <Notice kind="error">Could not load the fleet: {fleet.error}</Notice>}
        <Page key={loc.path} />
      </main>
    </div>
  );
}

function Page() {
  const loc = useLocation();
  const { can } = useSession();
  const [a, b, c] = loc.segments;
  switch (a) {
    case undefined:
      return <Overview />;
    case 'drift':
      return <DriftPage />;
    case 'ledger':
      return <LedgerPage />;
    case 'clusters':
      return b ? <ClusterPage name={b} /> : <Overview />;
    case 'apps':
      return b && c ? <AppPage cluster={b} app={c} /> : <Overview />;
    case 'approvals':
      return <ApprovalsPage />;
    case 'notifications':
      return <NotificationsPage />;
    case 'tokens':
      return can('admin') ? (
        <TokensPage />
      ) : (
        <Notice kind="error">Enrollment needs the admin role.</Notice>
      );
    default:
      return <Notice kind="error">No such page: {loc.path}</Notice>;
  }
}
