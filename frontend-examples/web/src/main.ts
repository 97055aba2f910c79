import './style.css';

import { createApi, describeError, type Api, type ConnectionState } from './api';
import type { App, Screen } from './app';
import { MeQuery } from './documents';
import { h, render } from './dom';
import { createInboxStore } from './inbox';
import { attachmentScreen } from './screens/attachment';
import { inboxScreen } from './screens/inbox';
import { signInScreen } from './screens/signIn';
import { statisticsScreen } from './screens/statistics';
import { workflowDiagramScreen, workflowsScreen } from './screens/workflows';

const TOKEN_KEY = 'workflowql.token';

const routes: [RegExp, Screen][] = [
  [/^#\/inbox$/, inboxScreen],
  [/^#\/workflows$/, workflowsScreen],
  [/^#\/workflows\/(?<id>[^/]+)$/, workflowDiagramScreen],
  [/^#\/attachments\/(?<id>[^/]+)$/, attachmentScreen],
  [/^#\/statistics$/, statisticsScreen],
];

const root = document.getElementById('app')!;
let session: { app: App; cleanup: () => void } | null = null;
let disposeScreen: () => void = () => {};

declare global {
  interface Window {
    /** Hooks for trying the reconnect behaviour by hand and for the browser test. */
    workflowql?: { simulateOutage(ms: number): void; connection(): ConnectionState };
  }
}

function toaster(): { element: HTMLElement; toast: App['toast'] } {
  const element = h('div', { class: 'toasts', 'aria-live': 'polite' });
  return {
    element,
    toast(message, kind = 'info') {
      const item = h('div', { class: `toast ${kind}` }, message);
      element.append(item);
      setTimeout(() => item.remove(), kind === 'error' ? 8000 : 4000);
    },
  };
}

async function signIn(token: string): Promise<void> {
  const api = createApi(token);
  let viewer;
  try {
    viewer = (await api.query(MeQuery, {})).me;
  } catch (error) {
    api.dispose();
    throw new Error(describeError(error));
  }
  if (!viewer) {
    api.dispose();
    throw new Error('The server did not accept this token.');
  }
  localStorage.setItem(TOKEN_KEY, token);
  startSession(api, viewer);
}

function signOut(): void {
  localStorage.removeItem(TOKEN_KEY);
  disposeScreen();
  session?.cleanup();
  session = null;
  window.location.hash = '#/sign-in';
  route();
}

function startSession(api: Api, viewer: App['viewer']): void {
  const { element: toasts, toast } = toaster();
  const inbox = createInboxStore(api, (error) => toast(describeError(error), 'error'));
  const app: App = { api, viewer, inbox, toast };

  const badge = h('span', { class: 'badge', 'data-testid': 'inbox-count' }, '0');
  const status = h('span', { class: 'connection connecting', 'data-testid': 'connection' }, 'Connecting…');
  const main = h('main', { id: 'main' });
  const stopState = api.onState((state) => {
    status.className = `connection ${state}`;
    status.textContent = state === 'live' ? 'Live' : state === 'connecting' ? 'Connecting…' : 'Reconnecting…';
  });
  const stopInbox = inbox.listen(() => {
    badge.textContent = String(inbox.totalCount);
  });
  window.workflowql = { simulateOutage: (ms) => api.simulateOutage(ms), connection: () => status.className.split(' ')[1] as ConnectionState };

  render(
    root,
    h(
      'header',
      { class: 'top' },
      h('a', { class: 'brand', href: '#/inbox' }, 'WorkflowQL'),
      h(
        'nav',
        null,
        h('a', { href: '#/inbox', 'data-nav': 'inbox' }, 'My approvals ', badge),
        h('a', { href: '#/workflows', 'data-nav': 'workflows' }, 'Workflows'),
        h('a', { href: '#/statistics', 'data-nav': 'statistics' }, 'Statistics'),
      ),
      h(
        'div',
        { class: 'who' },
        status,
        h('span', { 'data-testid': 'viewer' }, `${viewer.user.displayName} · ${viewer.company.name}`),
        h('button', { class: 'link', onClick: signOut }, 'Sign out'),
      ),
    ),
    main,
    h(
      'footer',
      null,
      'Example client of the WorkflowQL API: urql + graphql-ws. ',
      h(
        'button',
        { class: 'link', title: 'Close the WebSocket and keep it closed for 5 s', onClick: () => api.simulateOutage(5000) },
        'Drop the live connection for 5 s',
      ),
    ),
    toasts,
  );
  session = {
    app,
    cleanup: () => {
      stopState();
      stopInbox();
      inbox.dispose();
      api.dispose();
      delete window.workflowql;
    },
  };
  if (!window.location.hash || window.location.hash === '#/sign-in') window.location.hash = '#/inbox';
  route();
}

function route(): void {
  disposeScreen();
  disposeScreen = () => {};
  if (!session) {
    disposeScreen = signInScreen(root, signIn);
    return;
  }
  const main = document.getElementById('main')!;
  const hash = window.location.hash || '#/inbox';
  for (const link of document.querySelectorAll<HTMLAnchorElement>('nav a')) {
    link.classList.toggle('active', hash.startsWith(link.getAttribute('href')!));
  }
  for (const [pattern, screen] of routes) {
    const match = pattern.exec(hash);
    if (match) {
      disposeScreen = screen(session.app, main, match.groups ?? {});
      return;
    }
  }
  window.location.hash = '#/inbox';
}

window.addEventListener('hashchange', route);

const saved = localStorage.getItem(TOKEN_KEY);
if (saved) {
  signIn(saved).catch((error) => {
    localStorage.removeItem(TOKEN_KEY);
    disposeScreen = signInScreen(root, signIn, `Signed out: ${(error as Error).message}`);
  });
} else {
  route();
}
