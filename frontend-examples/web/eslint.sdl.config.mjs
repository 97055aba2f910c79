// @graphql-eslint on the committed SDL (schema/schema.graphql, copied here by `npm run schema`): the schema rules with the
// Relay ones and require-nullable-result-in-root. Run: npx eslint -c eslint.sdl.config.mjs schema.graphql
import graphqlPlugin from '@graphql-eslint/eslint-plugin';

export default [
  {
    files: ['schema.graphql'],
    languageOptions: {
      parser: graphqlPlugin.parser,
      parserOptions: { graphQLConfig: { schema: 'schema.graphql' } },
    },
    plugins: { '@graphql-eslint': graphqlPlugin },
    rules: {
      '@graphql-eslint/relay-arguments': 'error',
      '@graphql-eslint/relay-connection-types': 'error',
      // Plain lists stay where a list is small and bounded by its parent (a pipeline's stages,
      // a stage's approvals); only the lists that grow are connections.
      '@graphql-eslint/relay-edge-types': ['error', { listTypeCanWrapOnlyEdgeType: false }],
      '@graphql-eslint/relay-page-info': 'error',
      '@graphql-eslint/require-nullable-result-in-root': 'error',
      '@graphql-eslint/require-description': ['error', { types: true, rootField: true }],
      '@graphql-eslint/no-unreachable-types': 'error',
    },
  },
];
