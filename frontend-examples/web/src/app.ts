// What every screen gets: the API, the signed-in viewer, the live inbox and a way to say things.
import type { Api } from './api';
import type { MeQuery } from './documents';
import type { ResultOf } from './graphql';
import type { InboxStore } from './inbox';

export type Viewer = NonNullable<ResultOf<typeof MeQuery>['me']>;

export interface App {
  api: Api;
  viewer: Viewer;
  inbox: InboxStore;
  toast(message: string, kind?: 'info' | 'error'): void;
}

/** A screen draws itself into `root` and returns its cleanup (unsubscribe, stop listening). */
export type Screen = (app: App, root: HTMLElement, params: Record<string, string>) => () => void;
