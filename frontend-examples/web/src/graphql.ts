// Typed GraphQL documents: gql.tada infers each document's result and variables types from
// src/graphql-env.d.ts, generated from the repository's schema/schema.graphql by `npm run schema`.
// `npm run check` (part of `npm run build`) validates every document against that schema.
import { initGraphQLTada } from 'gql.tada';
import type { introspection } from './graphql-env.d.ts';

export const graphql = initGraphQLTada<{
  introspection: introspection;
  scalars: { DateTime: string; JSON: unknown; ID: string };
  disableMasking: true;
}>();

export type { FragmentOf, ResultOf, VariablesOf } from 'gql.tada';
