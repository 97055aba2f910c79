// "My pending approvals" (the earliest due first), kept fresh for the whole app: the myInboxChanged subscription says
// when an item entered or left the inbox, and the list is read again (also after a reconnect,
// since changes made while the socket was down were not pushed).
import type { Api } from './api';
import { InboxChangedSubscription, InboxQuery } from './documents';
import type { ResultOf } from './graphql';

export type InboxItem = NonNullable<ResultOf<typeof InboxQuery>['myPendingApprovals']>['edges'][number]['node'];
export type InboxChange = ResultOf<typeof InboxChangedSubscription>['myInboxChanged'];

export interface InboxStore {
  items: InboxItem[];
  totalCount: number;
  loaded: boolean;
  /** Attachment ids that entered since the page opened, to highlight them. */
  recentlyEntered: Set<string>;
  /** Attachment ids picked for a bulk decision; an item that leaves the inbox leaves it too. */
  selected: Set<string>;
  refresh(change?: InboxChange | null): Promise<void>;
  listen(listener: (change: InboxChange | null) => void): () => void;
  dispose(): void;
}

export function createInboxStore(api: Api, onError: (error: unknown) => void): InboxStore {
  const listeners = new Set<(change: InboxChange | null) => void>();
  let generation = 0;

  const store: InboxStore = {
    items: [],
    totalCount: 0,
    loaded: false,
    recentlyEntered: new Set(),
    selected: new Set(),
    async refresh(change: InboxChange | null = null) {
      const mine = ++generation;
      try {
        const data = await api.query(InboxQuery, {});
        if (mine !== generation) return; // a newer refresh is on its way
        store.items = (data.myPendingApprovals?.edges ?? []).map((edge) => edge.node);
        store.totalCount = data.myPendingApprovals?.totalCount ?? store.items.length;
        const listed = new Set(store.items.map((item) => item.id));
        for (const id of [...store.selected]) if (!listed.has(id)) store.selected.delete(id);
        store.loaded = true;
        listeners.forEach((listener) => listener(change));
      } catch (error) {
        onError(error);
      }
    },
    listen(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    dispose() {
      subscription.unsubscribe();
      stopReconnect();
      listeners.clear();
    },
  };

  const subscription = api.client.subscription(InboxChangedSubscription, {}).subscribe((result) => {
    if (result.error) return onError(result.error);
    const change = result.data?.myInboxChanged;
    if (!change) return;
    if (change.change === 'ENTERED') store.recentlyEntered.add(change.attachmentId);
    else store.recentlyEntered.delete(change.attachmentId);
    void store.refresh(change);
  });
  const stopReconnect = api.onReconnect(() => void store.refresh());
  void store.refresh();
  return store;
}
