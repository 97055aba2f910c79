// The API connection: urql for queries and mutations over HTTP, graphql-ws for subscriptions
// over one WebSocket (protocol graphql-transport-ws), both authenticated with the bearer token.
import {
  Client,
  CombinedError,
  fetchExchange,
  subscriptionExchange,
  type AnyVariables,
  type TypedDocumentNode,
} from '@urql/core';
import { createClient as createWsClient, type Client as WsClient } from 'graphql-ws';

export type ConnectionState = 'connecting' | 'live' | 'reconnecting';

export interface Api {
  client: Client;
  ws: WsClient;
  /** Run a query, always asking the server (subscriptions tell us when to ask again). */
  query<Data, Variables extends AnyVariables>(
    document: TypedDocumentNode<Data, Variables>,
    variables: Variables,
  ): Promise<Data>;
  /** Run a mutation; GraphQL or network errors throw, typed payload errors are returned. */
  mutate<Data, Variables extends AnyVariables>(
    document: TypedDocumentNode<Data, Variables>,
    variables: Variables,
  ): Promise<Data>;
  /** Called after every reconnect (not the first connect): time to catch up. */
  onReconnect(listener: () => void): () => void;
  onState(listener: (state: ConnectionState) => void): () => void;
  /** Drop the socket and keep it down for `ms` (for demos and the browser test). */
  simulateOutage(ms: number): void;
  dispose(): void;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function graphqlHttpUrl(): string {
  return new URL('/graphql', window.location.href).toString();
}

export function graphqlWsUrl(): string {
  const url = new URL('/graphql', window.location.href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.toString();
}

export function createApi(token: string): Api {
  let outageUntil = 0;
  let everConnected = false;
  const reconnectListeners = new Set<() => void>();
  const stateListeners = new Set<(state: ConnectionState) => void>();
  const setState = (state: ConnectionState) => stateListeners.forEach((listener) => listener(state));

  const ws = createWsClient({
    url: graphqlWsUrl(),
    // The server authenticates the socket from the connection_init payload.
    connectionParams: () => ({ authorization: `Bearer ${token}` }),
    // Keep retrying, whatever closed the socket (a restart, a proxy, a laptop lid).
    retryAttempts: Infinity,
    shouldRetry: () => true,
    retryWait: async (retries) => {
      await sleep(Math.min(250 * 2 ** retries, 4000) + Math.random() * 250);
      while (Date.now() < outageUntil) await sleep(Math.min(outageUntil - Date.now(), 250));
    },
    keepAlive: 15_000, // ping, so a dead socket is noticed
    on: {
      connecting: () => setState(everConnected ? 'reconnecting' : 'connecting'),
      connected: () => {
        setState('live');
        if (everConnected) reconnectListeners.forEach((listener) => listener());
        everConnected = true;
      },
      closed: () => setState('reconnecting'),
    },
  });

  const client = new Client({
    url: graphqlHttpUrl(),
    fetchOptions: () => ({ headers: { authorization: `Bearer ${token}` } }),
    requestPolicy: 'network-only',
    preferGetMethod: false,
    exchanges: [
      fetchExchange,
      subscriptionExchange({
        forwardSubscription(request) {
          const input = { ...request, query: request.query || '' };
          return {
            subscribe(sink) {
              const unsubscribe = ws.subscribe(input, sink);
              return { unsubscribe };
            },
          };
        },
      }),
    ],
  });

  async function run<Data>(promise: Promise<{ data?: Data; error?: CombinedError }>): Promise<Data> {
    const result = await promise;
    if (result.error) throw result.error;
    if (result.data === undefined) throw new Error('The server sent no data.');
    return result.data;
  }

  return {
    client,
    ws,
    query: (document, variables) => run(client.query(document, variables).toPromise()),
    mutate: (document, variables) => run(client.mutation(document, variables).toPromise()),
    onReconnect(listener) {
      reconnectListeners.add(listener);
      return () => reconnectListeners.delete(listener);
    },
    onState(listener) {
      stateListeners.add(listener);
      return () => stateListeners.delete(listener);
    },
    simulateOutage(ms) {
      outageUntil = Date.now() + ms;
      ws.terminate();
    },
    dispose() {
      void ws.dispose();
    },
  };
}

/** A readable sentence for a failed request: network trouble or GraphQL errors with their code. */
export function describeError(error: unknown): string {
  if (error instanceof CombinedError) {
    if (error.graphQLErrors.length) {
      return error.graphQLErrors
        .map((e) => (e.extensions?.code ? `${e.message} (${String(e.extensions.code)})` : e.message))
        .join(' ');
    }
    if (error.networkError) return `Cannot reach the server: ${error.networkError.message}`;
    return error.message;
  }
  return error instanceof Error ? error.message : String(error);
}

/** A typed mutation error as a sentence, e.g. "You are not an approver … (NOT_AN_APPROVER)". */
export function describeMutationError(error: { code: string; message: string; field?: string | null }): string {
  return `${error.message} (${error.code}${error.field ? `, field ${error.field}` : ''})`;
}
